package io.earlystart.overlay.io;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reports a phase's counter to a {@link Progress} five times a second from one daemon thread, and
 * once more at the end; calls to the {@link Progress} never overlap. Not thread-safe itself: one owner
 * starts and ends phases.
 */
public final class Ticker implements AutoCloseable {
  private final Progress progress;
  private final ScheduledExecutorService timer;
  private ScheduledFuture<?> task;
  private String phase;
  private long total;
  private AtomicLong counter;

  public Ticker(Progress progress) {
    this.progress = progress;
    this.timer = progress == Progress.NONE ? null : Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "earlystart-progress");
      t.setDaemon(true);
      return t;
    });
  }

  public AtomicLong start(String name, long units) {
    end();
    phase = name;
    total = units;
    counter = new AtomicLong();
    if (timer != null) {
      task = timer.scheduleAtFixedRate(this::report, 0, 200, TimeUnit.MILLISECONDS);
    }
    return counter;
  }

  private synchronized void report() {
    progress.update(phase, counter.get(), total);
  }

  public void end() {
    if (task != null) {
      task.cancel(false);
      task = null;
      report();
    }
  }

  @Override
  public void close() {
    end();
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}
