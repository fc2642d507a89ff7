package io.earlystart.overlay.create;

import io.earlystart.overlay.base.BaseIndex;
import io.earlystart.overlay.base.ChunkHash;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkRef;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.io.Futures;
import io.earlystart.overlay.io.ImageFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pass one of {@code create}: finds the chunks of a customised image that differ from the base chunk
 * at the same offset, and classifies each as ZERO, BASE_DISK / BASE_MEM (bytes equal to a chunk
 * anywhere in either base, confirmed by comparison) or DATA (new bytes, with its hash for self
 * dedup). Without a {@link BaseLookup} (dedup off) a changed chunk that is not all zero is DATA,
 * unhashed. Reads both images in large sequential blocks, split into contiguous ranges across the
 * executor's threads; a block that is a hole in both is skipped unread, and a hole reads as zeros
 * without a read ({@link ImageFile}), so the cost follows the data, not the image size. Stateless;
 * {@link #scan} is thread-safe.
 */
final class ChangeScanner {
  private static final int BLOCK = 1 << 20;
  private static final int CS = Manifest.CHUNK_SIZE;

  /**
   * The changed chunks of one image in chunk order; {@code arg} is the base chunk for BASE_*, {@code hash}
   * the {@link ChunkHash} of a DATA chunk (0 without a lookup).
   */
  record Changes(Image image, int[] chunks, byte[] kinds, int[] args, long[] hashes) {
    int size() {
      return chunks.length;
    }
  }

  private final ImageFile[] bases;
  private final BaseLookup lookup;

  /** @param lookup the base chunks to look changed chunks up in, or null for none (dedup off) */
  ChangeScanner(ImageFile[] bases, BaseLookup lookup) {
    this.bases = bases;
    this.lookup = lookup;
  }

  Changes scan(Image image, ImageFile custom, ExecutorService pool, int parts, AtomicLong progress)
      throws IOException, InterruptedException {
    long chunks = Manifest.chunkCount(custom.size(), CS);
    if (chunks > Integer.MAX_VALUE) {
      throw new IOException(custom.path() + " is too large (" + custom.size() + " bytes)");
    }
    long per = Math.max(BLOCK / CS, (chunks + parts - 1) / parts);
    List<Future<Builder>> futures = new ArrayList<>();
    for (long first = 0; first < chunks; first += per) {
      long from = first;
      long to = Math.min(chunks, first + per);
      futures.add(pool.submit(() -> scanRange(image, custom, (int) from, (int) to, progress)));
    }
    Builder all = new Builder(image);
    for (Future<Builder> f : futures) {
      all.append(Futures.get(f));
    }
    return all.build();
  }

  private Builder scanRange(Image image, ImageFile custom, int from, int to, AtomicLong progress)
      throws IOException {
    ImageFile base = bases[image.ordinal()];
    byte[] mine = new byte[BLOCK];
    byte[] theirs = new byte[BLOCK];
    byte[] candidate = new byte[CS];
    byte[] padded = new byte[CS];
    Builder out = new Builder(image);
    for (long c = from; c < to; ) {
      long pos = c * CS;
      int len = (int) Math.min(BLOCK, Math.min((long) (to - c) * CS, custom.size() - pos));
      if (!custom.hasData(pos, len) && !base.hasData(pos, len)) {
        c += (len + CS - 1) / CS; // zeros on both sides: unchanged, and nothing to read
        progress.addAndGet(len);
        continue;
      }
      custom.read(pos, mine, 0, len);
      base.read(pos, theirs, 0, len);
      for (int off = 0; off < len; off += CS, c++) {
        int n = Math.min(CS, len - off);
        if (Arrays.equals(mine, off, off + n, theirs, off, off + n)) {
          continue;
        }
        if (ChunkHash.isZero(mine, off, n)) {
          out.add((int) c, ChunkKind.ZERO, 0, 0);
          continue;
        }
        if (lookup == null) {
          out.add((int) c, ChunkKind.DATA, 0, 0);
          continue;
        }
        System.arraycopy(mine, off, padded, 0, n);
        Arrays.fill(padded, n, CS, (byte) 0);
        long hash = BaseIndex.nonZero(ChunkHash.hash(padded, 0, CS));
        long ref = lookup.find(hash);
        if (ref != BaseLookup.NONE && sameAsBase(ref, mine, off, n, candidate)) {
          Image from0 = Image.values()[ChunkRef.image(ref)];
          out.add((int) c, from0 == Image.DISK ? ChunkKind.BASE_DISK : ChunkKind.BASE_MEM, (int) ref, hash);
        } else {
          out.add((int) c, ChunkKind.DATA, 0, hash);
        }
      }
      progress.addAndGet(len);
    }
    return out;
  }

  private boolean sameAsBase(long ref, byte[] mine, int off, int n, byte[] scratch) throws IOException {
    ImageFile base = bases[ChunkRef.image(ref)];
    base.read(ChunkRef.chunk(ref) * CS, scratch, 0, n);
    return Arrays.equals(mine, off, off + n, scratch, 0, n);
  }

  /** Growable parallel arrays. Not thread-safe. */
  private static final class Builder {
    private final Image image;
    private int[] chunks = new int[256];
    private byte[] kinds = new byte[256];
    private int[] args = new int[256];
    private long[] hashes = new long[256];
    private int size;

    Builder(Image image) {
      this.image = image;
    }

    void add(int chunk, ChunkKind kind, int arg, long hash) {
      if (size == chunks.length) {
        grow(size * 2);
      }
      chunks[size] = chunk;
      kinds[size] = (byte) kind.code;
      args[size] = arg;
      hashes[size] = hash;
      size++;
    }

    void append(Builder o) {
      if (size + o.size > chunks.length) {
        grow(Math.max(chunks.length * 2, size + o.size));
      }
      System.arraycopy(o.chunks, 0, chunks, size, o.size);
      System.arraycopy(o.kinds, 0, kinds, size, o.size);
      System.arraycopy(o.args, 0, args, size, o.size);
      System.arraycopy(o.hashes, 0, hashes, size, o.size);
      size += o.size;
    }

    private void grow(int n) {
      chunks = Arrays.copyOf(chunks, n);
      kinds = Arrays.copyOf(kinds, n);
      args = Arrays.copyOf(args, n);
      hashes = Arrays.copyOf(hashes, n);
    }

    Changes build() {
      return new Changes(image, Arrays.copyOf(chunks, size), Arrays.copyOf(kinds, size),
          Arrays.copyOf(args, size), Arrays.copyOf(hashes, size));
    }
  }
}
