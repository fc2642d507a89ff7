package io.earlystart.overlay.create;

import io.earlystart.overlay.base.BaseIndex;
import io.earlystart.overlay.base.ChunkHash;
import io.earlystart.overlay.format.ChunkRef;

/**
 * Finds a base chunk (in either base image) whose {@link ChunkHash} equals a given hash: an
 * open-addressing table from hash to the first chunk with that hash, all-zero chunks left out (ZERO
 * covers them). A hit is only a candidate: the caller compares bytes. Immutable after construction;
 * thread-safe.
 */
final class BaseLookup {
  static final long NONE = ChunkRef.NONE;

  private final long[] keys;
  private final long[] values; // a ChunkRef, or NONE for an empty slot| chunk, or NONE for an empty slot
  private final int mask;

  BaseLookup(BaseIndex[] bases) {
    long n = 0;
    for (BaseIndex b : bases) {
      n += b.chunkCount();
    }
    int capacity = Integer.highestOneBit((int) Math.max(16, Math.min(1L << 30, n * 2))) << 1;
    keys = new long[capacity];
    values = new long[capacity];
    java.util.Arrays.fill(values, NONE);
    mask = capacity - 1;
    for (int image = 0; image < bases.length; image++) {
      BaseIndex b = bases[image];
      for (int c = 0; c < b.chunkCount(); c++) {
        if (!b.isZero(c)) {
          putIfAbsent(b.hash(c), ChunkRef.of(image, c));
        }
      }
    }
  }

  private void putIfAbsent(long key, long value) {
    int slot = (int) mix(key) & mask;
    while (values[slot] != NONE) {
      if (keys[slot] == key) {
        return;
      }
      slot = (slot + 1) & mask;
    }
    keys[slot] = key;
    values[slot] = value;
  }

  /**
   * @param key a hash as {@link BaseIndex#nonZero} adjusts it
   * @return the {@link ChunkRef} of a base chunk with this hash, or {@link #NONE}
   */
  long find(long key) {
    int slot = (int) mix(key) & mask;
    while (values[slot] != NONE) {
      if (keys[slot] == key) {
        return values[slot];
      }
      slot = (slot + 1) & mask;
    }
    return NONE;
  }

  private static long mix(long h) {
    return h ^ (h >>> 29) ^ (h >>> 47);
  }
}
