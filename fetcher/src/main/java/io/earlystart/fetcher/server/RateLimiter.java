package io.earlystart.fetcher.server;

/**
 * One token bucket shared by every connection of a server: {@code --rate} emulates one link, not one
 * per client. A sender asks for the bytes of the frame it is about to write; when the bucket holds too
 * few tokens it is told how long to wait and reschedules itself on its event loop (nothing sleeps).
 * The bucket holds at most {@link #BURST} bytes, so a demand never waits behind a large burst of
 * background bytes that was granted before it arrived. Thread-safe (one short lock).
 */
final class RateLimiter {
  /** Largest burst: one full part and its frame header. */
  static final long BURST = (64 << 10) + 64;

  private final long bytesPerSecond;
  private double tokens;
  private long lastNanos;

  /** @param bytesPerSecond 0 = unlimited */
  RateLimiter(long bytesPerSecond) {
    this.bytesPerSecond = bytesPerSecond;
    this.tokens = BURST;
    this.lastNanos = System.nanoTime();
  }

  boolean unlimited() {
    return bytesPerSecond == 0;
  }

  /**
   * Takes {@code bytes} tokens if the bucket holds them and returns 0; otherwise takes nothing and
   * returns the nanoseconds after which it will hold them (at least 1).
   */
  synchronized long tryAcquire(int bytes) {
    if (bytesPerSecond == 0) {
      return 0;
    }
    long now = System.nanoTime();
    tokens = Math.min(BURST, tokens + (now - lastNanos) * (bytesPerSecond / 1e9));
    lastNanos = now;
    double need = Math.min(bytes, BURST);
    if (tokens >= need) {
      tokens -= need;
      return 0;
    }
    return Math.max(1, (long) Math.ceil((need - tokens) * 1e9 / bytesPerSecond));
  }
}
