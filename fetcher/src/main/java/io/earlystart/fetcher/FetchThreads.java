package io.earlystart.fetcher;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The threads of one {@link SegmentScheduler}, all daemons: {@code earlystart-fetch-control} runs
 * reconnects after their backoff, {@code earlystart-fetch-apply} verifies and applies segments one at
 * a time in arrival order, {@code earlystart-fetch-close} closes sessions.
 *
 * <p>Thread-safe. Owned by the scheduler, which calls {@link #shutdown} once, from its close.
 */
final class FetchThreads {
  private final ScheduledExecutorService control =
      Executors.newSingleThreadScheduledExecutor(daemon("earlystart-fetch-control"));
  private final ExecutorService applyThread = Executors.newSingleThreadExecutor(daemon("earlystart-fetch-apply"));
  /**
   * Closes sessions, never under the scheduler's lock: a session's close takes its own lock, which a
   * session thread holds while it calls back into the sink (and so into the scheduler's lock); closing
   * under that lock deadlocked exactly there (a corrupt segment from a FileSource, rejected and given
   * up on).
   */
  private final ExecutorService closer = Executors.newSingleThreadExecutor(daemon("earlystart-fetch-close"));

  private static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * Runs {@code task} on the control thread after {@code millis}.
   *
   * @throws RejectedExecutionException after {@link #shutdown}
   */
  void later(Runnable task, long millis) {
    control.schedule(task, millis, TimeUnit.MILLISECONDS);
  }

  /** Queues {@code task} for the apply thread, after the tasks queued before it; dropped after {@link #shutdown}. */
  void apply(Runnable task) {
    try {
      applyThread.execute(task);
    } catch (RejectedExecutionException e) {
      // closed
    }
  }

  /**
   * Closes {@code s} on the closer thread, or on a thread of its own once the closer is shut down:
   * never on the caller's thread, which may hold the scheduler's lock.
   */
  void closeLater(SegmentSource.Session s) {
    try {
      closer.execute(s::close);
    } catch (RejectedExecutionException e) {
      Thread t = new Thread(s::close, "earlystart-session-close");
      t.setDaemon(true);
      t.start();
    }
  }

  /**
   * Stops the control thread at once; lets the segment being applied finish and the sessions queued
   * for closing close, waiting up to 10 s for each.
   */
  void shutdown() {
    control.shutdownNow();
    // not shutdownNow: an interrupt in the middle of an apply closes the applier's FileChannels
    // (ClosedByInterruptException), and the cache could then not be checkpointed; queued segments
    // return at once (closed), the one being applied finishes
    applyThread.shutdown();
    closer.shutdown(); // the sessions queued for closing are still closed
    try {
      applyThread.awaitTermination(10, TimeUnit.SECONDS);
      closer.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
