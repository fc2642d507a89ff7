package io.earlystart.fetcher.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.earlystart.fetcher.SegmentSource;
import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.OverlayHeader;
import io.earlystart.overlay.io.Progress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link SegmentSource} must do, run against each implementation. The fixture is a small
 * overlay with many 16 KiB segments made from seeded random images, plus a truncated and a corrupt
 * copy, all in {@link #dir}.
 */
abstract class SegmentSourceContract {
  static final Duration TIMEOUT = Duration.ofSeconds(5);
  static final String OVERLAY = "vm.esov";
  static final String TRUNCATED = "truncated.esov";
  static final String CORRUPT = "corrupt-manifest.esov";
  static final String MISSING = "no-such-overlay.esov";

  @TempDir
  static Path dir;
  static OverlayFile file;
  static byte[] vmstate;

  /** The source for {@code name} in {@link #dir}. */
  abstract SegmentSource source(String name);

  /** Order checks only a source that can preempt its stream makes; {@code order} is the arrival order. */
  void checkPreempted(List<Integer> order, int demanded) {}

  @BeforeAll
  static void createOverlay() throws Exception {
    Path images = Files.createDirectories(dir.resolve("images"));
    Random r = new Random(20261124L);
    byte[] baseDisk = randomChunks(r, 512);
    byte[] baseMemory = randomChunks(r, 256);
    byte[] disk = changeSome(r, baseDisk, 0.4);
    byte[] memory = changeSome(r, baseMemory, 0.4);
    vmstate = new byte[40_000];
    for (int i = 0; i < vmstate.length; i++) {
      vmstate[i] = (byte) ('a' + r.nextInt(6));
    }
    Path[] p = new Path[6];
    String[] names = {"base-disk.img", "base-memory.img", "disk.img", "memory.img", "vmstate", "vm.json"};
    byte[][] contents = {baseDisk, baseMemory, disk, memory, vmstate,
        "{\"memory\": \"1M\"}".getBytes(StandardCharsets.UTF_8)};
    for (int i = 0; i < p.length; i++) {
      p[i] = Files.write(images.resolve(names[i]), contents[i]);
    }
    Path out = dir.resolve(OVERLAY);
    OverlayCreator.create(CreateOptions.of(p[0], p[1], p[2], p[3], out).withAttachments(p[4], p[5])
        .withSegmentSize(16 << 10).withThreads(1), Progress.NONE);
    file = OverlayFile.open(out);
    assertTrue(file.manifest().segments().size() >= 50, "segments: " + file.manifest().segments().size());

    byte[] whole = Files.readAllBytes(out);
    Files.write(dir.resolve(TRUNCATED), java.util.Arrays.copyOf(whole, whole.length - 1));
    byte[] corrupt = whole.clone();
    corrupt[OverlayHeader.SIZE + 10] ^= 1;
    Files.write(dir.resolve(CORRUPT), corrupt);
  }

  @AfterAll
  static void closeFile() throws IOException {
    if (file != null) {
      file.close();
    }
  }

  private static byte[] randomChunks(Random r, int chunks) {
    byte[] b = new byte[chunks * Manifest.CHUNK_SIZE];
    r.nextBytes(b);
    return b;
  }

  private static byte[] changeSome(Random r, byte[] base, double fraction) {
    byte[] b = base.clone();
    byte[] chunk = new byte[Manifest.CHUNK_SIZE];
    for (int at = 0; at < b.length; at += chunk.length) {
      if (r.nextDouble() < fraction) {
        r.nextBytes(chunk);
        System.arraycopy(chunk, 0, b, at, chunk.length);
      }
    }
    return b;
  }

  static int segmentCount() {
    return file.manifest().segments().size();
  }

  static int[] all() {
    return IntStream.range(0, segmentCount()).toArray();
  }

  // ---- the contract -----------------------------------------------------------------------------

  @Test
  void headMatchesTheFile() throws Exception {
    try (SegmentSource src = source(OVERLAY); SegmentSource.Session s = src.open(new Recorder(), TIMEOUT)) {
      assertEquals(file.id(), s.head().id());
      assertEquals(file.header(), s.head().header());
      assertEquals(file.manifest().segments(), s.head().manifest().segments());
      assertEquals(file.manifest().attachments(), s.head().manifest().attachments());
      assertEquals(Files.size(file.path()), s.head().fileLength());
    }
  }

  @Test
  void streamsEverySegmentByteForByte() throws Exception {
    Recorder sink = new Recorder();
    try (SegmentSource src = source(OVERLAY); SegmentSource.Session s = src.open(sink, TIMEOUT)) {
      s.stream(all());
      sink.awaitAll(segmentCount());
      for (var seg : file.manifest().segments()) {
        assertArrayEquals(file.readSegment(seg), sink.got.get(seg.index()), "segment " + seg.index());
      }
      assertNull(sink.failure);
    }
  }

  @Test
  void demandedSegmentArrivesWhileStreaming() throws Exception {
    int late = segmentCount() - 1;
    Recorder sink = new Recorder();
    try (SegmentSource src = source(OVERLAY); SegmentSource.Session s = src.open(sink, TIMEOUT)) {
      sink.onSegment = i -> {
        if (i == 0) {
          s.demand(late); // from the session's own thread, as a scheduler might
        }
      };
      s.stream(all());
      sink.awaitAll(segmentCount());
      assertArrayEquals(file.readSegment(file.manifest().segments().get(late)), sink.got.get(late));
      checkPreempted(sink.order(), late);
    }
  }

  @Test
  void demandWithoutStream() throws Exception {
    Recorder sink = new Recorder();
    try (SegmentSource src = source(OVERLAY); SegmentSource.Session s = src.open(sink, TIMEOUT)) {
      s.demand(7);
      s.demand(3);
      sink.awaitAll(2);
      assertEquals(List.of(3, 7), sink.order().stream().sorted().toList());
      assertArrayEquals(file.readSegment(file.manifest().segments().get(7)), sink.got.get(7));
    }
  }

  @Test
  void attachmentsComeVerifiedAndDecompressed() throws Exception {
    try (SegmentSource src = source(OVERLAY); SegmentSource.Session s = src.open(new Recorder(), TIMEOUT)) {
      Attachment a = s.head().manifest().attachment(Attachment.VMSTATE);
      assertNotNull(a);
      assertArrayEquals(vmstate, s.attachment(a));
    }
  }

  @Test
  void missingOverlayIsNotFound() {
    try (SegmentSource src = source(MISSING)) {
      IOException e = assertThrows(IOException.class, () -> src.open(new Recorder(), TIMEOUT));
      assertTrue(e.getMessage().contains("not found"), e.getMessage());
      assertTrue(e.getMessage().contains(MISSING), e.getMessage());
    } catch (IOException e) {
      fail(e);
    }
  }

  @Test
  void truncatedOverlayIsCorrupt() throws IOException {
    try (SegmentSource src = source(TRUNCATED)) {
      CorruptOverlayException e = assertThrows(CorruptOverlayException.class, () -> src.open(new Recorder(), TIMEOUT));
      assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }
  }

  @Test
  void corruptManifestIsCorrupt() throws IOException {
    try (SegmentSource src = source(CORRUPT)) {
      CorruptOverlayException e = assertThrows(CorruptOverlayException.class, () -> src.open(new Recorder(), TIMEOUT));
      assertTrue(e.getMessage().contains("manifest SHA-256 mismatch"), e.getMessage());
    }
  }

  @Test
  void segmentOutOfRangeIsRefused() throws Exception {
    try (SegmentSource src = source(OVERLAY); SegmentSource.Session s = src.open(new Recorder(), TIMEOUT)) {
      assertThrows(IllegalArgumentException.class, () -> s.demand(segmentCount()));
      assertThrows(IllegalArgumentException.class, () -> s.stream(new int[] {0, -1}));
    }
  }

  @Test
  void noSinkCallAfterClose() throws Exception {
    Recorder sink = new Recorder();
    SegmentSource src = source(OVERLAY);
    SegmentSource.Session s = src.open(sink, TIMEOUT);
    s.stream(all());
    long started = System.nanoTime();
    s.close();
    assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(3), "close took too long");
    int calls = sink.calls.get();
    Thread.sleep(200);
    assertEquals(calls, sink.calls.get(), "sink called after close");
    assertNull(sink.failure, "failed() after close");
    s.stream(all()); // ignored
    s.demand(0);
    Thread.sleep(50);
    assertEquals(calls, sink.calls.get());
    s.close(); // idempotent
    src.close();
  }

  // ---- a recording sink -------------------------------------------------------------------------

  static final class Recorder implements SegmentSource.Sink {
    final Map<Integer, byte[]> got = new ConcurrentHashMap<>();
    private final List<Integer> order = new ArrayList<>();
    final AtomicInteger calls = new AtomicInteger();
    final AtomicInteger failures = new AtomicInteger();
    volatile Throwable failure;
    volatile IntConsumer onSegment = i -> {};

    @Override
    public void segment(int index, byte[] frame) {
      calls.incrementAndGet();
      synchronized (this) {
        got.put(index, frame);
        order.add(index);
        notifyAll();
      }
      onSegment.accept(index);
    }

    @Override
    public void failed(Throwable cause) {
      calls.incrementAndGet();
      failures.incrementAndGet();
      synchronized (this) {
        failure = cause;
        notifyAll();
      }
    }

    synchronized List<Integer> order() {
      return List.copyOf(order);
    }

    /** Waits until {@code n} distinct segments have arrived; fails on a session failure or after 10 s. */
    synchronized void awaitAll(int n) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (got.size() < n || order.stream().distinct().count() < n) {
        if (failure != null) {
          throw new AssertionError("session failed", failure);
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          fail("only " + got.size() + " of " + n + " segments arrived");
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
    }

    /** Waits for {@link #failed}; fails after 10 s. */
    synchronized Throwable awaitFailure() throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (failure == null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          fail("the session did not fail");
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
      return failure;
    }
  }
}
