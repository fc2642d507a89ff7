package io.earlystart.fetcher.client;

import io.earlystart.fetcher.SegmentSource;
import java.util.BitSet;

/**
 * The sink of one session, guarded so that the session keeps the {@link SegmentSource.Session}
 * contract whatever its threads do: no sink call starts once the session is closed or dead, {@link
 * SegmentSource.Sink#failed} is told at most once and never after close, and a segment that the stream brings
 * again after it was delivered is dropped (a demanded one always goes through).
 *
 * <p>Thread-safe: sink calls happen under one lock, so {@link #close} returning means none is running.
 * Owned by one session; the sink belongs to whoever opened the session.
 */
final class GuardedSink {
  private final SegmentSource.Sink sink;
  private final Object lock = new Object();
  /** Guarded by {@link #lock}. */
  private final BitSet delivered;
  private boolean closed;
  private volatile boolean dead;

  GuardedSink(SegmentSource.Sink sink, int segments) {
    this.sink = sink;
    this.delivered = new BitSet(segments);
  }

  /** True once the session failed or was closed: calls on it are then ignored. */
  boolean dead() {
    return dead;
  }

  /** True once {@code index} went to the sink. */
  boolean delivered(int index) {
    synchronized (lock) {
      return delivered.get(index);
    }
  }

  /** Hands a segment to the sink, unless the session is dead, or it came in the stream and went before. */
  void segment(int index, byte[] frame, boolean demanded) {
    synchronized (lock) {
      if (closed || dead || !demanded && delivered.get(index)) {
        return;
      }
      delivered.set(index);
      sink.segment(index, frame);
    }
  }

  /**
   * The session died: tells the sink, unless it is dead or closed already.
   *
   * @return whether this call told it (and so the session has to stop its work)
   */
  boolean failed(Throwable cause) {
    synchronized (lock) {
      if (closed || dead) {
        return false;
      }
      dead = true;
      sink.failed(cause);
      return true;
    }
  }

  /**
   * The session is closed: no sink call starts from now on.
   *
   * @return false if it was closed before
   */
  boolean close() {
    synchronized (lock) {
      if (closed) {
        return false;
      }
      closed = true;
      dead = true;
      return true;
    }
  }
}
