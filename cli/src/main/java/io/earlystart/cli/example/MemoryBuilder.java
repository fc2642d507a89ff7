package io.earlystart.cli.example;

import static io.earlystart.cli.example.Sparse.PAGE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Page-structured memory images. Base: ~35% zero pages (runs and scattered), ~25% kernel/heap
 * pages, ~40% page cache (copies of non-zero base-disk blocks). Customised: the base plus page
 * cache of the new application, other base-disk blocks, freed pages, small in-place edits, new
 * random pages and a few pages duplicated several times.
 */
final class MemoryBuilder {

  private static final byte UNSET = -1;
  private static final byte ZERO = 0;
  private static final byte HEAP = 1;
  private static final byte CACHE = 2;

  private static final byte KEEP = 0;
  private static final byte FREE = 1;
  private static final byte NEW_DISK = 2;
  private static final byte OLD_DISK = 3;
  private static final byte EDIT = 4;
  private static final byte RANDOM = 5;
  private static final byte DUP = 6;

  private static final long SALT_HEAP = 0x4EA9L;
  private static final long SALT_EDIT = 0xED17L;
  private static final long SALT_RANDOM = 0x7A4DL;
  private static final long SALT_DUP = 0xD0B1EL;
  private static final int WINDOW_PAGES = Sparse.WINDOW / PAGE;

  private final long seed;
  private final int n;
  private final DiskScan scan;
  private final byte[] kind;
  private final int[] block;
  /** Customised memory: source block (NEW_DISK, OLD_DISK) or duplicate group (DUP) per page. */
  private final int[] arg;

  MemoryBuilder(long seed, long memorySize, DiskScan scan) {
    this.seed = seed;
    this.n = (int) (memorySize / PAGE);
    this.scan = scan;
    this.kind = new byte[n];
    this.block = new int[n];
    this.arg = new int[n];
    planBase();
  }

  static long mix(long a, long b) {
    long z = a * 0x9E3779B97F4A7C15L + b;
    z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
    z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
    return z ^ (z >>> 33);
  }

  private void planBase() {
    SplittableRandom r = new SplittableRandom(mix(seed, 0xBA5EL));
    Arrays.fill(kind, UNSET);
    int zeroTarget = n * 35 / 100;
    int zeros = 0;
    while (zeros < zeroTarget * 6 / 10) { // runs of free memory
      int start = r.nextInt(n);
      int end = Math.min(n, start + 8 + r.nextInt(249));
      for (int i = start; i < end && zeros < zeroTarget * 6 / 10; i++) {
        if (kind[i] == UNSET) {
          kind[i] = ZERO;
          zeros++;
        }
      }
    }
    int[] rest = new int[n - zeros];
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (kind[i] == UNSET) {
        rest[k++] = i;
      }
    }
    shuffle(rest, r);
    k = 0;
    for (; zeros < zeroTarget; zeros++) {
      kind[rest[k++]] = ZERO;
    }
    for (int h = 0; h < n * 25 / 100; h++) {
      kind[rest[k++]] = HEAP;
    }
    while (k < rest.length) {
      kind[rest[k++]] = CACHE;
    }
    assignRuns(r, i -> kind[i] == CACHE, scan.baseNonZero(), block);
  }

  private interface PageTest {
    boolean test(int page);
  }

  /**
   * Page cache holds files in readahead runs: 1-16 consecutive source blocks. The runs walk the
   * source list once (random gaps between them, so few blocks repeat) and land on the pages in
   * random order, as physical page allocation would place them.
   */
  private void assignRuns(SplittableRandom r, PageTest which, int[] source, int[] target) {
    int count = 0;
    for (int i = 0; i < n; i++) {
      count += which.test(i) ? 1 : 0;
    }
    if (count == 0) {
      return;
    }
    int len = source.length;
    long avgGap = Math.max(0, (long) len - count) * 17 / 2 / count;
    int[] starts = new int[count];
    int[] lengths = new int[count];
    int runs = 0;
    long cursor = r.nextInt(len);
    for (int made = 0; made < count; runs++) {
      int run = Math.min(1 + r.nextInt(16), count - made);
      cursor += avgGap == 0 ? 0 : r.nextLong(2 * avgGap + 1);
      starts[runs] = (int) (cursor % len);
      lengths[runs] = run;
      cursor += run;
      made += run;
    }
    int[] order = new int[runs];
    for (int k = 0; k < runs; k++) {
      order[k] = k;
    }
    shuffle(order, r);
    int run = -1;
    int left = 0;
    int next = 0;
    for (int i = 0; i < n; i++) {
      if (which.test(i)) {
        if (left == 0) {
          run = order[next++];
          left = lengths[run];
        }
        target[i] = source[(int) ((starts[run] + (long) (lengths[run] - left)) % len)];
        left--;
      }
    }
  }

  void writeBase(Path out, Path baseDisk) throws IOException {
    byte[] buf = new byte[Sparse.WINDOW];
    ByteBuffer le = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel disk = FileChannel.open(baseDisk, StandardOpenOption.READ); FileChannel ch = Sparse.create(out)) {
      for (int w = 0; w < n; w += WINDOW_PAGES) {
        int pages = Math.min(WINDOW_PAGES, n - w);
        for (int p = 0; p < pages; p++) {
          int i = w + p;
          int off = p * PAGE;
          switch (kind[i]) {
            case HEAP -> heapPage(mix(seed ^ SALT_HEAP, i), le, off);
            case CACHE -> Sparse.readPage(disk, block[i], buf, off);
            default -> Arrays.fill(buf, off, off + PAGE, (byte) 0);
          }
        }
        Sparse.writeNonZeroPages(ch, (long) w * PAGE, buf, pages * PAGE);
      }
    }
    Sparse.finish(out, (long) n * PAGE);
  }

  /** Kernel/heap-like page: pointers sharing high bits, small integers, zeros, poison, random. */
  static void heapPage(long s, ByteBuffer le, int off) {
    SplittableRandom pr = new SplittableRandom(s);
    long prev = 0;
    for (int w = 0; w < PAGE / 8; w++) {
      long v = switch (pr.nextInt(16)) {
        case 0, 1, 2, 3, 4 -> 0xffff888000000000L | ((pr.nextLong() & 0x3fffffL) << 6);
        case 5 -> 0x00007f0000000000L | (pr.nextLong() & 0xfffffff0L);
        case 6, 7 -> pr.nextInt(4096);
        case 8, 9, 10 -> 0L;
        case 11, 12 -> pr.nextLong();
        case 13 -> prev;
        case 14 -> pr.nextBoolean() ? 0xdead000000000100L : 0xdead000000000122L;
        default -> 0xffffffff81000000L | (pr.nextLong() & 0xffffffL);
      };
      le.putLong(off + w * 8, v);
      prev = v;
    }
  }

  void writeCustom(Path out, Path baseMemory, Path baseDisk, Path disk) throws IOException {
    byte[] op = planCustom();
    byte[] buf = new byte[Sparse.WINDOW];
    ByteBuffer le = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel base = FileChannel.open(baseMemory, StandardOpenOption.READ);
      FileChannel oldDisk = FileChannel.open(baseDisk, StandardOpenOption.READ);
      FileChannel newDisk = FileChannel.open(disk, StandardOpenOption.READ);
      FileChannel ch = Sparse.create(out)) {
      for (int w = 0; w < n; w += WINDOW_PAGES) {
        int pages = Math.min(WINDOW_PAGES, n - w);
        Sparse.readFully(base, (long) w * PAGE, buf, 0, pages * PAGE);
        for (int p = 0; p < pages; p++) {
          int i = w + p;
          int off = p * PAGE;
          switch (op[i]) {
            case FREE -> Arrays.fill(buf, off, off + PAGE, (byte) 0);
            case NEW_DISK -> Sparse.readPage(newDisk, arg[i], buf, off);
            case OLD_DISK -> Sparse.readPage(oldDisk, arg[i], buf, off);
            case EDIT -> edit(new SplittableRandom(mix(seed ^ SALT_EDIT, i)), buf, off);
            case RANDOM -> Content.random(new SplittableRandom(mix(seed ^ SALT_RANDOM, i)), buf, off, PAGE);
            case DUP -> heapPage(mix(seed ^ SALT_DUP, arg[i]), le, off);
            default -> {
            }
          }
        }
        Sparse.writeNonZeroPages(ch, (long) w * PAGE, buf, pages * PAGE);
      }
    }
    Sparse.finish(out, (long) n * PAGE);
  }

  /** 1-3 places of 8-40 bytes rewritten: at most 120 bytes differ from the base page. */
  private static void edit(SplittableRandom r, byte[] buf, int off) {
    int places = 1 + r.nextInt(3);
    for (int k = 0; k < places; k++) {
      int len = 8 + r.nextInt(33);
      int pos = r.nextInt(PAGE - len) & ~7;
      Content.random(r, buf, off + pos, len);
    }
  }

  private byte[] planCustom() {
    SplittableRandom r = new SplittableRandom(mix(seed, 0xC057L));
    byte[] op = new byte[n];
    int nonZero = 0;
    int heap = 0;
    for (byte k : kind) {
      nonZero += k != ZERO ? 1 : 0;
      heap += k == HEAP ? 1 : 0;
    }
    int[] nonZeroPages = new int[nonZero];
    int[] heapPages = new int[heap];
    for (int i = 0, a = 0, b = 0; i < n; i++) {
      if (kind[i] != ZERO) {
        nonZeroPages[a++] = i;
      }
      if (kind[i] == HEAP) {
        heapPages[b++] = i;
      }
    }
    pick(op, r, nonZeroPages, nonZero * 5 / 100, FREE);
    pick(op, r, heapPages, Math.max(1, n * 4 / 100), EDIT);
    pick(op, r, null, Math.max(1, n * 8 / 100), NEW_DISK);
    pick(op, r, null, Math.max(1, n * 3 / 100), OLD_DISK);
    pick(op, r, null, n * 4 / 100, RANDOM);
    assignRuns(r, i -> op[i] == NEW_DISK, scan.changedNonZero(), arg);
    assignRuns(r, i -> op[i] == OLD_DISK, uncachedBaseBlocks(), arg);
    int groups = Math.max(2, n / 2048);
    for (int g = 0; g < groups; g++) {
      int copies = 3 + r.nextInt(6);
      for (int c = 0; c < copies; c++) {
        int i = pickOne(op, r, null);
        if (i >= 0) {
          op[i] = DUP;
          arg[i] = g;
        }
      }
    }
    return op;
  }

  /** Non-zero base-disk blocks that the base memory does not already cache (all of them if none). */
  private int[] uncachedBaseBlocks() {
    int[] all = scan.baseNonZero();
    java.util.BitSet cached = new java.util.BitSet();
    for (int i = 0; i < n; i++) {
      if (kind[i] == CACHE) {
        cached.set(block[i]);
      }
    }
    int[] out = new int[all.length];
    int k = 0;
    for (int b : all) {
      if (!cached.get(b)) {
        out[k++] = b;
      }
    }
    return k == 0 ? all : Arrays.copyOf(out, k);
  }

  private void pick(byte[] op, SplittableRandom r, int[] from, int count, byte what) {
    for (int c = 0; c < count; c++) {
      int i = pickOne(op, r, from);
      if (i < 0) {
        return;
      }
      op[i] = what;
    }
  }

  private int pickOne(byte[] op, SplittableRandom r, int[] from) {
    int len = from == null ? n : from.length;
    for (int tries = 0; tries < 64 && len > 0; tries++) {
      int i = from == null ? r.nextInt(n) : from[r.nextInt(len)];
      if (op[i] == KEEP) {
        return i;
      }
    }
    return -1;
  }

  private static void shuffle(int[] a, SplittableRandom r) {
    for (int i = a.length - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}
