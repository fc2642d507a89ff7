package io.earlystart.fetcher.server;

/**
 * One token bucket shared by every connection of a server: {@code --rate} emulates one link, not one
 * per client. A sender asks for the bytes of the frame it is about to write; it may send as soon as the
 * bucket is not in debt, and the frame's bytes are then taken even if that puts the bucket in debt;
 * otherwise it is told how long until the debt is paid and reschedules itself on its event loop
 * (nothing sleeps). Debt rather than a full-frame threshold matters at high rates: the event loop
 * wakes up with about a millisecond of granularity, longer than one 64 KiB part at 1 Gbit/s, and
 * tokens that accrue while a sender oversleeps must not be thrown away. The bucket holds at most
 * {@link #CAPACITY} spare bytes, which only an idle link can accumulate; while the stream saturates the
 * link the bucket hovers around zero, so a demand waits behind at most the part being sent.
 * Thread-safe (one short lock).
 */
final class RateLimiter {
  /** Spare bytes an idle link may bank: enough to cover an oversleep of a few parts' time. */
  static final long CAPACITY = 4 * ((64 << 10) + 64);

  private final long bytesPerSecond;
  private double tokens;
  private long lastNanos;

  /** @param bytesPerSecond 0 = unlimited */
  RateLimiter(long bytesPerSecond) {
    this.bytesPerSecond = bytesPerSecond;
    this.tokens = 0;
    this.lastNanos = System.nanoTime();
  }

  boolean unlimited() {
    return bytesPerSecond == 0;
  }

  /**
   * Takes {@code bytes} tokens and returns 0 when the bucket is not in debt; otherwise takes nothing
   * and returns the nanoseconds until the debt is paid (at least 1).
   */
  synchronized long tryAcquire(int bytes) {
    if (bytesPerSecond == 0) {
      return 0;
    }
    long now = System.nanoTime();
    tokens = Math.min(CAPACITY, tokens + (now - lastNanos) * (bytesPerSecond / 1e9));
    lastNanos = now;
    if (tokens >= 0) {
      tokens -= bytes;
      return 0;
    }
    return Math.max(1, (long) Math.ceil(-tokens * 1e9 / bytesPerSecond));
  }
}
