package io.earlystart.fetcher.server;

import io.earlystart.fetcher.SegmentSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A sink that keeps every segment and the order of arrival. Thread-safe. */
final class Collector implements SegmentSource.Sink {
  final Map<Integer, byte[]> frames = new ConcurrentHashMap<>();
  private final List<Integer> order = new ArrayList<>();
  private volatile Throwable failure;

  @Override
  public synchronized void segment(int index, byte[] frame) {
    frames.put(index, frame);
    order.add(index);
    notifyAll();
  }

  @Override
  public synchronized void failed(Throwable cause) {
    failure = cause;
    notifyAll();
  }

  Throwable failure() {
    return failure;
  }

  synchronized List<Integer> order() {
    return List.copyOf(order);
  }

  /** Waits until {@code n} segments (arrivals, repeats included) came in; fails on a sink failure. */
  synchronized void awaitArrivals(int n, long seconds) throws InterruptedException, TimeoutException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (order.size() < n) {
      check();
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new TimeoutException(order.size() + " of " + n + " segments arrived");
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    check();
  }

  /** Waits until segment {@code index} came in. */
  synchronized void awaitSegment(int index, long seconds) throws InterruptedException, TimeoutException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!frames.containsKey(index)) {
      check();
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new TimeoutException("segment " + index + " did not arrive");
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
  }

  /** Waits until every segment in {@code [0, count)} came in. */
  synchronized void awaitAll(int count, long seconds) throws InterruptedException, TimeoutException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (frames.size() < count) {
      check();
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new TimeoutException(frames.size() + " of " + count + " segments arrived");
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
  }

  private void check() {
    if (failure != null) {
      throw new AssertionError("session failed: " + failure, failure);
    }
  }
}
