package io.earlystart.fetcher;

/**
 * Receives what a {@link SegmentSource.Session} fetches. Called from the session's threads (netty
 * event loops included): implementations must not block.
 */
public interface SegmentSink {
  /**
   * The whole frame of segment {@code index} as received, not yet verified against the manifest. The
   * array belongs to the sink from now on.
   */
  void segment(int index, byte[] frame);

  /** The session died (connection lost, protocol error, source gone); no more calls follow. */
  void failed(Throwable cause);
}
