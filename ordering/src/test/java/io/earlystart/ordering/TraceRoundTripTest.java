package io.earlystart.ordering;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.format.Image;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceRoundTripTest {
  static final String ID = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

  @TempDir Path dir;

  @Test
  void eightThreadsEveryRecordExactlyOnce() throws Exception {
    int threads = 8;
    int perThread = 50_000; // 400k records: about 100 buffer flushes, many under contention
    Path file = dir.resolve("t.trace");
    CyclicBarrier go = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try (TraceWriter w = TraceWriter.create(file, ID)) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          go.await();
          Random r = new Random(1000 + thread);
          for (int i = 0; i < perThread; i++) {
            w.touch(r.nextLong() >>> 1, r.nextBoolean() ? Image.DISK : Image.MEMORY, thread * perThread + i);
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }

    Trace trace = Trace.read(file);
    assertEquals(threads * perThread, trace.size());
    assertEquals(0, trace.ignoredTailBytes());
    assertEquals(Files.size(file), TraceFormat.HEADER_BYTES + (long) threads * perThread * TraceFormat.RECORD_BYTES);
    int[] seenAt = new int[threads * perThread];
    Arrays.fill(seenAt, -1);
    int[] lastOfThread = new int[threads];
    Arrays.fill(lastOfThread, -1);
    for (int i = 0; i < trace.size(); i++) {
      int chunk = trace.chunk(i);
      assertEquals(-1, seenAt[chunk], "chunk " + chunk + " twice");
      seenAt[chunk] = i;
      int thread = chunk / perThread;
      assertTrue(chunk % perThread > lastOfThread[thread], "one thread's records stay in call order");
      lastOfThread[thread] = chunk % perThread;
    }
    for (int t = 0; t < threads; t++) { // every record present, with its time and image
      Random r = new Random(1000 + t);
      for (int i = 0; i < perThread; i++) {
        int at = seenAt[t * perThread + i];
        assertTrue(at >= 0, "record " + t + "/" + i + " missing");
        assertEquals(r.nextLong() >>> 1, trace.nanos(at));
        assertEquals(r.nextBoolean() ? Image.DISK : Image.MEMORY, trace.image(at));
      }
    }
  }

  @Test
  void emptyTrace() throws Exception {
    Path file = dir.resolve("empty.trace");
    Instant before = Instant.now();
    Instant start;
    try (TraceWriter w = TraceWriter.create(file, ID)) {
      start = w.start();
    }
    Instant after = Instant.now();
    Trace trace = Trace.read(file);
    assertEquals(TraceFormat.HEADER_BYTES, Files.size(file));
    assertEquals(ID, trace.overlayId());
    assertEquals(start, trace.start());
    assertFalse(trace.start().isBefore(before) || trace.start().isAfter(after));
    assertEquals(0, trace.size());
    assertTrue(trace.marks().isEmpty());
    assertEquals(-1, trace.mark("first-response"));
    assertArrayEquals(new int[0], trace.firstTouches(Image.DISK));
    assertFalse(Files.exists(dir.resolve("empty.trace.tmp")));
  }

  @Test
  void marksInOrderFirstOfARepeatedLabelWins() throws Exception {
    Path file = dir.resolve("m.trace");
    String unicode = "première-réponse ✓";
    String longest = "x".repeat(TraceFormat.MAX_LABEL_BYTES);
    try (TraceWriter w = TraceWriter.create(file, ID)) {
      w.touch(5, Image.MEMORY, 1);
      w.mark(7, "first-response");
      w.touch(9, Image.DISK, 2);
      w.mark(11, unicode);
      w.mark(12, "first-response");
      w.mark(0, longest);
      assertThrows(IllegalArgumentException.class, () -> w.mark(1, ""));
      assertThrows(IllegalArgumentException.class, () -> w.mark(1, longest + "x"));
      assertThrows(IllegalArgumentException.class, () -> w.mark(1, "é".repeat(128))); // 256 bytes
      assertThrows(IllegalArgumentException.class, () -> w.mark(-1, "negative"));
    }
    Trace trace = Trace.read(file);
    assertEquals(2, trace.size());
    assertEquals(List.of("first-response", unicode, longest), List.copyOf(trace.marks().keySet()));
    assertEquals(Map.of("first-response", 7L, unicode, 11L, longest, 0L), trace.marks());
    assertEquals(7, trace.mark("first-response"));
    assertEquals(-1, trace.mark("boot-done"));
  }

  @Test
  void firstTouchesByTimeDeduplicatedAndCutAtAMark() throws Exception {
    Path file = dir.resolve("f.trace");
    try (TraceWriter w = TraceWriter.create(file, ID)) {
      w.touch(50, Image.DISK, 7);
      w.touch(10, Image.DISK, 3);
      w.touch(30, Image.MEMORY, 3);
      w.touch(20, Image.DISK, 7); // earlier than the first record of chunk 7: its first touch
      w.touch(10, Image.DISK, 9); // same time as chunk 3: file order breaks the tie
      w.touch(60, Image.DISK, 3);
      w.mark(40, "first-response");
      w.touch(45, Image.DISK, 1);
    }
    Trace trace = Trace.read(file);
    assertArrayEquals(new int[] {3, 9, 7, 1}, trace.firstTouches(Image.DISK));
    assertArrayEquals(new int[] {3, 9, 7}, trace.firstTouchesBefore(Image.DISK, "first-response"));
    assertArrayEquals(new int[] {3}, trace.firstTouches(Image.MEMORY));
    assertArrayEquals(new int[] {3, 9}, trace.firstTouchesBefore(Image.DISK, 20));
    assertArrayEquals(new int[0], trace.firstTouchesBefore(Image.DISK, 10));
    assertThrows(IllegalArgumentException.class, () -> trace.firstTouchesBefore(Image.DISK, "boot-done"));
  }

  @Test
  void firstTouchesMatchANaiveReference() throws Exception {
    Path file = dir.resolve("r.trace");
    Random r = new Random(42);
    try (TraceWriter w = TraceWriter.create(file, ID)) {
      for (int i = 0; i < 20_000; i++) {
        w.touch(r.nextInt(5_000), r.nextInt(4) == 0 ? Image.MEMORY : Image.DISK, r.nextInt(3_000));
      }
      w.mark(2_500, "half");
    }
    Trace trace = Trace.read(file);
    for (Image image : Image.values()) {
      assertArrayEquals(naive(trace, image, Long.MAX_VALUE), trace.firstTouches(image));
      assertArrayEquals(naive(trace, image, 2_500), trace.firstTouchesBefore(image, "half"));
    }
  }

  private static int[] naive(Trace trace, Image image, long end) {
    List<Integer> records = new ArrayList<>();
    for (int i = 0; i < trace.size(); i++) {
      if (trace.image(i) == image && trace.nanos(i) < end) {
        records.add(i);
      }
    }
    records.sort(Comparator.<Integer>comparingLong(trace::nanos).thenComparingInt(i -> i));
    LinkedHashSet<Integer> chunks = new LinkedHashSet<>();
    records.forEach(i -> chunks.add(trace.chunk(i)));
    return chunks.stream().mapToInt(Integer::intValue).toArray();
  }

  @Test
  void badArgumentsAndCallsAfterClose() throws Exception {
    Path file = dir.resolve("c.trace");
    assertThrows(IllegalArgumentException.class, () -> TraceWriter.create(file, "abc"));
    assertThrows(IllegalArgumentException.class, () -> TraceWriter.create(file, ID.replace('a', 'g')));
    Files.writeString(file, "an older trace, replaced");
    TraceWriter w = TraceWriter.create(file, ID);
    assertThrows(IllegalArgumentException.class, () -> w.touch(1, Image.DISK, -1));
    assertThrows(IllegalArgumentException.class, () -> w.touch(-1, Image.DISK, 1));
    w.touch(1, Image.DISK, Integer.MAX_VALUE);
    w.touch(Long.MAX_VALUE, Image.MEMORY, 0);
    w.flush();
    w.close();
    w.close();
    w.touch(2, Image.DISK, 2);
    w.mark(3, "late");
    w.flush();
    Trace trace = Trace.read(file);
    assertEquals(2, trace.size());
    assertEquals(Integer.MAX_VALUE, trace.chunk(0));
    assertEquals(Long.MAX_VALUE, trace.nanos(1));
    assertTrue(trace.marks().isEmpty());
    assertThrows(IndexOutOfBoundsException.class, () -> trace.chunk(2));
  }

  @Test
  void touchAllocatesNothing() throws Exception {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    // the allocation counter this test needs: every supported JDK (OpenJDK, HotSpot) has it, so a JVM
    // without it fails the test instead of skipping it
    com.sun.management.ThreadMXBean threads = assertInstanceOf(com.sun.management.ThreadMXBean.class, mx,
        "this JVM has no per-thread allocation counter");
    try (TraceWriter w = TraceWriter.create(dir.resolve("a.trace"), ID)) {
      for (int i = 0; i < 200_000; i++) { // warm up, also through buffer flushes
        w.touch(i, Image.DISK, i);
      }
      long id = Thread.currentThread().getId();
      long before = threads.getThreadAllocatedBytes(id);
      for (int i = 0; i < 1_000_000; i++) {
        w.touch(i, Image.MEMORY, i);
      }
      long allocated = threads.getThreadAllocatedBytes(id) - before;
      assertTrue(allocated < 256 * 1024, allocated + " bytes allocated by 1M touches");
    }
  }
}
