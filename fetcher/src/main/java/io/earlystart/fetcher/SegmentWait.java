package io.earlystart.fetcher;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Waits for segment futures (from {@link SegmentScheduler#fetchNow} and the like) with a deadline, and
 * says why a wait failed, the same way for every caller:
 *
 * <ul>
 *   <li>deadline passed: an {@link IOException} "PREFIXsegment N not fetched from SOURCE within X ms",
 *       followed by " (last error: MESSAGE)" when the source has a last error to tell;
 *   <li>the future failed with an {@link IOException}: that exception, unchanged;
 *   <li>it failed with anything else: an {@link IOException} "PREFIXMESSAGE" caused by it;
 *   <li>interrupted: {@link InterruptedException}, for the caller to handle.
 * </ul>
 *
 * <p>Immutable and thread-safe; one instance serves every wait on one source. It owns nothing: the
 * futures belong to whoever made them.
 */
public final class SegmentWait {
  private final String source;
  private final Supplier<? extends Throwable> lastError;

  /** Waits on segments from {@code source} (as described to the user), with no last error to tell. */
  public SegmentWait(String source) {
    this(source, () -> null);
  }

  /**
   * @param lastError asked once a deadline has passed: the error that last cost a session or a
   *     connection attempt, or null
   */
  public SegmentWait(String source, Supplier<? extends Throwable> lastError) {
    this.source = source;
    this.lastError = lastError;
  }

  /** Waits until {@code future} (of {@code segment}) completes, at most {@code deadline}. */
  public void await(CompletableFuture<?> future, int segment, Duration deadline)
      throws IOException, InterruptedException {
    await(future, segment, System.nanoTime(), deadline, "");
  }

  /**
   * Waits until {@code futures[0..n)} have all completed, within one {@code deadline} counted from
   * {@code startNanos} (a {@link System#nanoTime()}), so that demands sent together share the wait.
   *
   * @param segments the segment of each future, for the message
   * @param prefix goes before every message, for example {@code "disk.img chunk 7: "}; or empty
   */
  public void awaitAll(CompletableFuture<?>[] futures, int[] segments, int n, long startNanos, Duration deadline,
      String prefix) throws IOException, InterruptedException {
    for (int i = 0; i < n; i++) {
      await(futures[i], segments[i], startNanos, deadline, prefix);
    }
  }

  private void await(CompletableFuture<?> f, int segment, long startNanos, Duration deadline, String prefix)
      throws IOException, InterruptedException {
    try {
      long left = deadline.toNanos() - (System.nanoTime() - startNanos);
      f.get(Math.max(0, left), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      Throwable last = lastError.get();
      throw new IOException(prefix + "segment " + segment + " not fetched from " + source + " within "
          + deadline.toMillis() + " ms" + (last != null ? " (last error: " + last.getMessage() + ")" : ""), e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) {
        throw io;
      }
      throw new IOException(prefix + (cause.getMessage() != null ? cause.getMessage() : cause.toString()), cause);
    }
  }
}
