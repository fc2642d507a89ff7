package io.earlystart.overlay.base;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * A fast 64-bit hash of chunk bytes for finding candidates; candidates are always confirmed by
 * comparing bytes, so the hash needs to spread well, not to resist attack. Four independent lanes of
 * multiply-rotate mixing over 8-byte words (xxHash64's round), then a final avalanche. Thread-safe.
 */
public final class ChunkHash {
  private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long P1 = 0x9E3779B185EBCA87L;
  private static final long P2 = 0xC2B2AE3D27D4EB4FL;
  private static final long P3 = 0x165667B19E3779F9L;

  private ChunkHash() {}

  public static long hash(byte[] b, int off, int len) {
    long v1 = P1 + P2;
    long v2 = P2;
    long v3 = 0;
    long v4 = -P1;
    int i = off;
    int end = off + len;
    for (; i + 32 <= end; i += 32) {
      v1 = round(v1, (long) LONGS.get(b, i));
      v2 = round(v2, (long) LONGS.get(b, i + 8));
      v3 = round(v3, (long) LONGS.get(b, i + 16));
      v4 = round(v4, (long) LONGS.get(b, i + 24));
    }
    long h = Long.rotateLeft(v1, 1) + Long.rotateLeft(v2, 7) + Long.rotateLeft(v3, 12) + Long.rotateLeft(v4, 18);
    h += len;
    for (; i < end; i++) {
      h = Long.rotateLeft(h ^ ((b[i] & 0xFFL) * P3), 11) * P1;
    }
    h ^= h >>> 33;
    h *= P2;
    h ^= h >>> 29;
    h *= P3;
    h ^= h >>> 32;
    return h;
  }

  private static long round(long acc, long input) {
    acc += input * P2;
    acc = Long.rotateLeft(acc, 31);
    return acc * P1;
  }

  /** True when {@code b[off..off+len)} is all zero. */
  public static boolean isZero(byte[] b, int off, int len) {
    int i = off;
    int end = off + len;
    for (; i + 8 <= end; i += 8) {
      if ((long) LONGS.get(b, i) != 0) {
        return false;
      }
    }
    for (; i < end; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }
}
