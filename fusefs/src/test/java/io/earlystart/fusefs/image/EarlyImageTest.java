package io.earlystart.fusefs.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.RandomPair;
import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.io.DataRanges;
import io.earlystart.overlay.io.Progress;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The read and write path of {@link EarlyImage} without FUSE or sockets: segments come from a real
 * overlay file through the real applier ({@link EarlyImages#apply}), when the test lets them.
 */
class EarlyImageTest {
  private static final int CS = 4096;

  @TempDir static Path shared;
  static RandomPair pair;
  static Path overlay;
  static byte[][] want;

  @TempDir Path tmp;
  private OverlayFile file;
  private EarlyImages early;
  private EarlyImage[] images;
  private final Map<Integer, CompletableFuture<Void>> pending = new ConcurrentHashMap<>();
  private final List<Integer> demanded = new CopyOnWriteArrayList<>();
  private boolean applyOnDemand = true;

  @BeforeAll
  static void makeOverlay() throws Exception {
    pair = RandomPair.create(shared, 5, 1 << 20, (1 << 20) + 300, 1 << 20);
    overlay = shared.resolve("x.overlay");
    OverlayCreator.create(CreateOptions.of(pair.baseDisk, pair.baseMemory, pair.disk, pair.memory, overlay)
        .withSegmentSize(16 << 10).withLevel(1).withThreads(1), Progress.NONE);
    want = new byte[][] {Files.readAllBytes(pair.disk), Files.readAllBytes(pair.memory)};
  }

  private void open(Duration deadline) throws IOException {
    file = OverlayFile.open(overlay);
    try {
      early = EarlyImages.open(new OverlayHead(file.header(), file.manifest()),
          new Path[] {pair.baseDisk, pair.baseMemory}, tmp.resolve("cache"), this::demand, deadline, deadline,
          EarlyImage.Touches.NONE, "test");
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    images = new EarlyImage[] {early.image(Image.DISK), early.image(Image.MEMORY)};
  }

  private CompletableFuture<Void> demand(int segment) {
    demanded.add(segment);
    CompletableFuture<Void> f = pending.computeIfAbsent(segment, k -> new CompletableFuture<>());
    if (applyOnDemand) {
      arrive(segment);
    }
    return f;
  }

  /** The segment arrives: applied from the overlay file, then its waiters are released. */
  private synchronized void arrive(int segment) {
    CompletableFuture<Void> f = pending.computeIfAbsent(segment, k -> new CompletableFuture<>());
    if (f.isDone()) {
      return;
    }
    try {
      Segment s = file.manifest().segments().get(segment);
      early.apply(s, file.readSegment(s));
      f.complete(null);
    } catch (IOException e) {
      f.completeExceptionally(e);
    }
  }

  @AfterEach
  void close() throws IOException {
    if (early != null) {
      early.close();
      file.close();
    }
  }

  private byte[] read(EarlyImage image, long off, int len) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(len);
    assertEquals(len, image.read(off, b));
    return b.array();
  }

  @Test
  void everyChunkKindReadsAsTheCustomisedImage() throws IOException {
    open(Duration.ofSeconds(5));
    Random r = new Random(1);
    for (Image image : Image.values()) {
      EarlyImage img = images[image.ordinal()];
      byte[] w = want[image.ordinal()];
      assertEquals(w.length, img.size());
      for (int off = 0; off < w.length; ) {
        int len = Math.min(w.length - off, 1 + r.nextInt(3 * CS));
        assertArrayEquals(Arrays.copyOfRange(w, off, off + len), read(img, off, len), image + " at " + off);
        off += len;
      }
      assertEquals(-1, img.read(w.length, ByteBuffer.allocate(10)));
    }
    assertTrue(!demanded.isEmpty(), "chunks with payload must have been demanded");
  }

  @Test
  void readsOfPresentAndBaseChunksAllocateNothing() throws IOException {
    open(Duration.ofSeconds(5));
    ByteBuffer dst = ByteBuffer.allocateDirect(128 << 10);
    for (EarlyImage img : images) { // everything arrives; warm up the code
      for (long off = 0; off < img.size(); off += dst.capacity()) {
        dst.clear();
        img.read(off, dst);
      }
    }
    com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
    Random r = new Random(2);
    for (int i = 0; i < 20_000; i++) {
      EarlyImage img = images[i & 1];
      dst.clear().limit(1 + r.nextInt(dst.capacity()));
      img.read(r.nextInt((int) img.size()), dst);
    }
    long allocated = mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
    assertTrue(allocated < 16 << 10, "20 000 reads allocated " + allocated + " bytes");
  }

  @Test
  void aWholeChunkGuestWriteWinsOverItsSegmentArrivingLater() throws IOException {
    open(Duration.ofSeconds(5));
    applyOnDemand = false;
    EarlyImage mem = images[Image.MEMORY.ordinal()];
    long c = firstChunkOf(Image.MEMORY, ChunkKind.DATA);
    int seg = mem.segmentNeeded(c);
    assertTrue(seg >= 0);
    byte[] mine = new byte[CS];
    Arrays.fill(mine, (byte) 0x5a);
    mem.write(c * CS, ByteBuffer.wrap(mine));
    assertTrue(demanded.isEmpty(), "a whole-chunk write must not wait for the chunk");
    arrive(seg);
    assertArrayEquals(mine, read(mem, c * CS, CS), "the guest's bytes win");
    applyOnDemand = true;
    byte[] w = want[Image.MEMORY.ordinal()];
    for (long o = 0; o < w.length; o += CS) {
      if (o != c * CS) {
        assertArrayEquals(Arrays.copyOfRange(w, (int) o, (int) o + CS), read(mem, o, CS), "chunk " + o / CS);
      }
    }
  }

  @Test
  void aPartialWriteFetchesItsChunkFirst() throws IOException {
    open(Duration.ofSeconds(5));
    EarlyImage disk = images[Image.DISK.ordinal()];
    long c = firstChunkOf(Image.DISK, ChunkKind.DATA);
    int seg = disk.segmentNeeded(c);
    disk.write(c * CS + 100, ByteBuffer.wrap(new byte[] {1, 2, 3}));
    assertEquals(List.of(seg), demanded);
    byte[] expect = Arrays.copyOfRange(want[0], (int) (c * CS), (int) (c * CS + CS));
    expect[100] = 1;
    expect[101] = 2;
    expect[102] = 3;
    assertArrayEquals(expect, read(disk, c * CS, CS));
  }

  @Test
  void aPartialWriteToABaseChunkKeepsTheRestOfTheBase() throws IOException {
    open(Duration.ofSeconds(5));
    EarlyImage disk = images[Image.DISK.ordinal()];
    ChunkTable t = file.manifest().table(Image.DISK);
    long c = 0;
    while (t.find((int) c) >= 0) {
      c++;
    }
    byte[] expect = Arrays.copyOfRange(want[0], (int) (c * CS), (int) (c * CS + CS));
    expect[CS - 1] = 9;
    disk.write(c * CS + CS - 1, ByteBuffer.wrap(new byte[] {9}));
    assertArrayEquals(expect, read(disk, c * CS, CS));
    assertTrue(demanded.isEmpty(), "a base chunk needs no segment");
    byte[] tail = new byte[300];
    Arrays.fill(tail, (byte) 7);
    disk.write(disk.size() - 300, ByteBuffer.wrap(tail)); // the short last chunk
    assertArrayEquals(tail, read(disk, disk.size() - 300, 300));
  }

  @Test
  void aReadThatCannotBeServedFailsAtItsDeadline() throws IOException {
    open(Duration.ofMillis(300));
    applyOnDemand = false;
    EarlyImage disk = images[Image.DISK.ordinal()];
    long c = firstChunkOf(Image.DISK, ChunkKind.DATA);
    long t0 = System.nanoTime();
    IOException e = assertThrows(IOException.class, () -> read(disk, c * CS, 10));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(e.getMessage().contains("not fetched") && ms >= 290 && ms < 5000, ms + " ms: " + e.getMessage());
  }

  @Test
  void writesOutsideTheImageAreRefused() throws IOException {
    open(Duration.ofSeconds(5));
    EarlyImage mem = images[Image.MEMORY.ordinal()];
    assertThrows(ImageBoundsException.class, () -> mem.write(mem.size() - 1, ByteBuffer.allocate(2)));
  }

  /**
   * A discard of whole chunks that have not arrived: no demand, they read as zeros, the segment that
   * arrives later does not bring the overlay bytes back, the cache holds a hole, and a new mount of the
   * same cache still reads zeros. A discard of part of a chunk is a write of zeros: the rest stays.
   */
  @Test
  void aDiscardReadsAsZerosAndWinsOverItsSegmentArrivingLater() throws Exception {
    open(Duration.ofSeconds(5));
    applyOnDemand = false;
    EarlyImage mem = images[Image.MEMORY.ordinal()];
    long c = firstChunkOf(Image.MEMORY, ChunkKind.DATA);
    int seg = mem.segmentNeeded(c);
    assertTrue(seg >= 0);
    mem.discard(c * CS, 2 * CS);
    assertTrue(demanded.isEmpty(), "a discard of whole chunks must not wait for them");
    assertEquals(-1, mem.segmentNeeded(c), "discarded: nothing to fetch");
    assertArrayEquals(new byte[2 * CS], read(mem, c * CS, 2 * CS));
    arrive(seg);
    assertArrayEquals(new byte[2 * CS], read(mem, c * CS, 2 * CS), "the discard wins over overlay data");
    Path cacheFile = tmp.resolve("cache/memory.cache");
    DataRanges cached = DataRanges.of(cacheFile, Files.size(cacheFile));
    assertTrue(!cached.hasData(c * CS, 2 * CS) && cached.dataBytes() > 0,
        "the discarded range is a hole in the cache (the applied segment's other chunks are data)");
    applyOnDemand = true;
    EarlyImage disk = images[Image.DISK.ordinal()];
    long d = firstChunkOf(Image.DISK, ChunkKind.DATA);
    disk.discard(d * CS + 100, 200); // part of a chunk: fetched first, then 200 zeros
    byte[] expect = Arrays.copyOfRange(want[0], (int) (d * CS), (int) (d * CS + CS));
    Arrays.fill(expect, 100, 300, (byte) 0);
    assertArrayEquals(expect, read(disk, d * CS, CS));
    disk.discard(disk.size() - 300, 300); // the short last chunk, whole
    assertArrayEquals(new byte[300], read(disk, disk.size() - 300, 300));
    early.close();
    file.close();
    early = null;
    open(Duration.ofSeconds(5));
    mem = images[Image.MEMORY.ordinal()];
    assertArrayEquals(new byte[2 * CS], read(mem, c * CS, 2 * CS), "still zeros after a remount");
    assertArrayEquals(expect, read(images[0], d * CS, CS));
    byte[] w = want[Image.MEMORY.ordinal()];
    assertArrayEquals(Arrays.copyOfRange(w, (int) (c * CS + 2 * CS), (int) (c * CS + 3 * CS)),
        read(mem, c * CS + 2 * CS, CS), "the chunk after the discard is untouched");
  }

  @Test
  void aDiscardOutsideTheImageChangesNothing() throws IOException {
    open(Duration.ofSeconds(5));
    EarlyImage mem = images[Image.MEMORY.ordinal()];
    byte[] lastBefore = read(mem, mem.size() - CS, CS);
    assertThrows(ImageBoundsException.class, () -> mem.discard(mem.size() - CS, CS + 1));
    assertThrows(ImageBoundsException.class, () -> mem.discard(-1, 10));
    assertThrows(ImageBoundsException.class, () -> mem.discard(10, Long.MAX_VALUE));
    assertArrayEquals(lastBefore, read(mem, mem.size() - CS, CS));
  }

  private long firstChunkOf(Image image, ChunkKind kind) {
    ChunkTable t = file.manifest().table(image);
    for (int e = 0; e < t.size(); e++) {
      if (t.kind(e) == kind) {
        return t.chunk(e);
      }
    }
    throw new AssertionError("no " + kind + " chunk in " + image);
  }
}
