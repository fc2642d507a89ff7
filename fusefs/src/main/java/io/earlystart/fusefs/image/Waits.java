package io.earlystart.fusefs.image;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * How long readers waited for chunks that had not arrived: a count, the number waiting now, and the
 * last {@value #KEPT} wait times for percentiles. Only reads that had to wait are recorded, so this
 * is off the hot path. Thread-safe, lock-free.
 */
final class Waits {
  static final int KEPT = 4096;

  private final AtomicLong count = new AtomicLong();
  private final AtomicLong totalNanos = new AtomicLong();
  private final AtomicInteger waitingNow = new AtomicInteger();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicLongArray recent = new AtomicLongArray(KEPT);

  void begin() {
    waitingNow.incrementAndGet();
  }

  void end(long nanos, boolean failed) {
    waitingNow.decrementAndGet();
    long n = count.getAndIncrement();
    recent.set((int) (n % KEPT), nanos);
    totalNanos.addAndGet(nanos);
    if (failed) {
      errors.incrementAndGet();
    }
  }

  long count() {
    return count.get();
  }

  int waitingNow() {
    return waitingNow.get();
  }

  long errors() {
    return errors.get();
  }

  long totalNanos() {
    return totalNanos.get();
  }

  /** The {@code qs} quantiles (0..1) of the kept wait times in nanoseconds, from one sort; 0s when none. */
  long[] quantilesNanos(double... qs) {
    long[] out = new long[qs.length];
    int n = (int) Math.min(count.get(), KEPT);
    if (n == 0) {
      return out;
    }
    long[] v = new long[n];
    for (int i = 0; i < n; i++) {
      v[i] = recent.get(i);
    }
    Arrays.sort(v);
    for (int k = 0; k < qs.length; k++) {
      int rank = (int) Math.ceil(qs[k] * n) - 1; // nearest rank
      out[k] = v[Math.max(0, Math.min(n - 1, rank))];
    }
    return out;
  }
}
