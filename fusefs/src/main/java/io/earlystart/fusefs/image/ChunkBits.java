package io.earlystart.fusefs.image;

import java.util.concurrent.atomic.AtomicLongArray;
import org.roaringbitmap.RoaringBitmap;

/**
 * A fixed-size bit set whose reads are lock-free and whose sets are atomic compare-and-set: the
 * "present" check of the read path, taken on every FUSE read without a lock.
 *
 * <p>Thread-safe. A bit, once set, is never cleared.
 */
final class ChunkBits {
  private final AtomicLongArray words;
  private final long size;

  ChunkBits(long size) {
    if (size < 0 || (size + 63) / 64 > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("bad size " + size);
    }
    this.size = size;
    this.words = new AtomicLongArray((int) ((size + 63) / 64));
  }

  long size() {
    return size;
  }

  boolean get(long i) {
    return (words.get((int) (i >>> 6)) & (1L << i)) != 0;
  }

  /** Sets bit {@code i}; true when this call set it (it was clear before). */
  boolean set(long i) {
    int w = (int) (i >>> 6);
    long bit = 1L << i;
    while (true) {
      long old = words.get(w);
      if ((old & bit) != 0) {
        return false;
      }
      if (words.compareAndSet(w, old, old | bit)) {
        return true;
      }
    }
  }

  /** Sets every bit of {@code bits} below {@link #size()}. */
  void setAll(RoaringBitmap bits) {
    bits.forEach((org.roaringbitmap.IntConsumer) i -> {
      if (Integer.toUnsignedLong(i) < size) {
        set(Integer.toUnsignedLong(i));
      }
    });
  }

  /** Number of set bits (a moment's view while others set bits). */
  long cardinality() {
    long n = 0;
    for (int w = 0; w < words.length(); w++) {
      n += Long.bitCount(words.get(w));
    }
    return n;
  }
}
