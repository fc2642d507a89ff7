package io.earlystart.fetcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SegmentWaitTest {
  @SuppressWarnings("unchecked")
  static CompletableFuture<Void>[] futures(int n) {
    CompletableFuture<Void>[] fs = new CompletableFuture[n];
    for (int i = 0; i < n; i++) {
      fs[i] = new CompletableFuture<>();
    }
    return fs;
  }

  @Test
  void completedFuturesReturnAtOnce() throws Exception {
    CompletableFuture<Void>[] fs = futures(2);
    fs[0].complete(null);
    fs[1].complete(null);
    new SegmentWait("src").awaitAll(fs, new int[] {3, 4}, 2, System.nanoTime(), Duration.ZERO, "x: ");
  }

  @Test
  void timeoutNamesTheSegmentSourceAndDeadline() {
    IOException e = assertThrows(IOException.class,
        () -> new SegmentWait("es://h:1/a").await(new CompletableFuture<>(), 7, Duration.ofMillis(50)));
    assertEquals("segment 7 not fetched from es://h:1/a within 50 ms", e.getMessage());
  }

  @Test
  void timeoutTellsTheLastErrorAndThePrefix() {
    SegmentWait w = new SegmentWait("es://h:1/a", () -> new IOException("connection refused"));
    CompletableFuture<Void>[] fs = futures(2);
    fs[0].complete(null);
    IOException e = assertThrows(IOException.class,
        () -> w.awaitAll(fs, new int[] {3, 9}, 2, System.nanoTime(), Duration.ofMillis(50), "disk.img chunk 12: "));
    assertEquals("disk.img chunk 12: segment 9 not fetched from es://h:1/a within 50 ms"
        + " (last error: connection refused)", e.getMessage());
  }

  @Test
  void allFuturesShareOneDeadline() {
    CompletableFuture<Void>[] fs = futures(3);
    long start = System.nanoTime();
    assertThrows(IOException.class,
        () -> new SegmentWait("s").awaitAll(fs, new int[] {1, 2, 3}, 3, start, Duration.ofMillis(200), ""));
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertTrue(ms >= 190 && ms < 2000, ms + " ms for three waits under one 200 ms deadline");
  }

  @Test
  void anIOExceptionComesThroughUnchanged() {
    IOException cause = new IOException("corrupt");
    IOException e = assertThrows(IOException.class,
        () -> new SegmentWait("s").await(CompletableFuture.failedFuture(cause), 1, Duration.ofSeconds(5)));
    assertSame(cause, e);
  }

  @Test
  void anyOtherFailureIsWrapped() {
    IllegalArgumentException cause = new IllegalArgumentException("no segment 99");
    CompletableFuture<Void>[] fs = futures(1);
    fs[0].completeExceptionally(cause);
    IOException e = assertThrows(IOException.class,
        () -> new SegmentWait("s").awaitAll(fs, new int[] {99}, 1, System.nanoTime(), Duration.ofSeconds(5), "p: "));
    assertEquals("p: no segment 99", e.getMessage());
    assertSame(cause, e.getCause());
  }

  @Test
  void interruptPropagates() {
    Thread.currentThread().interrupt();
    assertThrows(InterruptedException.class,
        () -> new SegmentWait("s").await(new CompletableFuture<>(), 1, Duration.ofSeconds(5)));
  }
}
