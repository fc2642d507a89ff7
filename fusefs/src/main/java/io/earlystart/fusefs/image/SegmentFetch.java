package io.earlystart.fusefs.image;

import java.util.concurrent.CompletableFuture;

/**
 * How a read gets a segment that has not arrived: {@code SegmentScheduler::fetchNow} in a mount, a
 * test's own in unit tests. Implementations must be thread-safe and must not block.
 */
@FunctionalInterface
public interface SegmentFetch {
  /**
   * Fetches {@code segment} ahead of the background stream; the future completes once its chunks are
   * in the cache (one fetch shared by every caller), or fails with what stopped fetching.
   */
  CompletableFuture<Void> fetchNow(int segment);
}
