package io.earlystart.fetcher;

import java.time.Duration;

/**
 * Limits of a {@link SegmentScheduler}.
 *
 * @param windowBytes bytes of background segments asked for and not yet received, at most (the
 *     stream is topped up as segments arrive); demands are not counted
 * @param maxAttempts fetches of one segment whose bytes fail verification before it is given up
 * @param openTimeout deadline of one connection attempt (connect and head)
 * @param backoffMin first wait before a reconnect, doubled after each failed attempt
 * @param backoffMax longest wait between reconnect attempts
 * @param giveUpAfter how long the source may stay unreachable, with no segment arriving, before
 *     every pending wait fails
 */
public record SchedulerOptions(long windowBytes, int maxAttempts, Duration openTimeout, Duration backoffMin,
    Duration backoffMax, Duration giveUpAfter) {

  public static final SchedulerOptions DEFAULTS = new SchedulerOptions(4L << 20, 3, Duration.ofSeconds(10),
      Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofSeconds(60));

  public SchedulerOptions {
    if (windowBytes < 1 || maxAttempts < 1) {
      throw new IllegalArgumentException("window and attempts must be positive");
    }
  }

  public SchedulerOptions withGiveUpAfter(Duration d) {
    return new SchedulerOptions(windowBytes, maxAttempts, openTimeout, backoffMin, backoffMax, d);
  }

  public SchedulerOptions withWindowBytes(long bytes) {
    return new SchedulerOptions(bytes, maxAttempts, openTimeout, backoffMin, backoffMax, giveUpAfter);
  }

  public SchedulerOptions withBackoff(Duration min, Duration max) {
    return new SchedulerOptions(windowBytes, maxAttempts, openTimeout, min, max, giveUpAfter);
  }
}
