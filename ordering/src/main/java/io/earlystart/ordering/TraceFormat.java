package io.earlystart.ordering;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Constants and pure encoding helpers of the trace format, shared by {@link TraceWriter} and
 * {@link TraceReader}. The format itself is specified in the module's README.md. Stateless and
 * thread-safe.
 */
final class TraceFormat {
  /** {@code "\x89ESTR\r\n\x1a"}: high bit and CR LF / ^Z catch text-mode transfers, as in PNG. */
  static final long MAGIC = 0x89_45_53_54_52_0D_0A_1AL;
  static final int MIN_VERSION = 1;
  static final int MAX_VERSION = 1;
  static final int VERSION = MAX_VERSION;
  static final int CHUNK_SIZE = 4096;
  static final int HEADER_BYTES = 64;
  static final int OVERLAY_ID_BYTES = 32;

  static final int OFF_VERSION = 8;
  static final int OFF_FLAGS = 10;
  static final int OFF_CHUNK_SIZE = 12;
  static final int OFF_START = 16;
  static final int OFF_OVERLAY_ID = 24;
  static final int OFF_RESERVED = 56;
  static final int OFF_CRC = 60;

  /** Record kinds: ASCII letters, so that a hex dump reads and a zero byte is never a kind. */
  static final int KIND_TOUCH = 'T';
  static final int KIND_MARK = 'M';
  /** Fixed part of every record; a touch record is exactly this long. */
  static final int RECORD_BYTES = 16;
  static final int MAX_LABEL_BYTES = 255;

  private TraceFormat() {}

  /** First word of a touch record, check bits zero. */
  static long touchWord(int image, int chunk) {
    return (long) KIND_TOUCH << 56 | (long) image << 48 | (chunk & 0xffffffffL);
  }

  /** First word of a mark record, check bits zero. */
  static long markWord(int labelLength) {
    return (long) KIND_MARK << 56 | (long) labelLength << 48;
  }

  /** The record's 16-bit check: {@code word0} with its check bits zero, then the label bytes. */
  static int check(long word0, long nanos, byte[] label) {
    long h = mix(word0 ^ mix(nanos));
    if (label != null) {
      for (byte b : label) {
        h = mix(h ^ (b & 0xff));
      }
    }
    return (int) (h >>> 48);
  }

  /** Check of a touch record (no label): arithmetic only, no allocation. */
  static int check(long word0, long nanos) {
    return (int) (mix(word0 ^ mix(nanos)) >>> 48);
  }

  /** The 64-bit finaliser of MurmurHash3 ({@code fmix64}). */
  static long mix(long x) {
    x ^= x >>> 33;
    x *= 0xff51afd7ed558ccdL;
    x ^= x >>> 33;
    x *= 0xc4ceb9fe1a85ec53L;
    x ^= x >>> 33;
    return x;
  }

  static byte[] header(byte[] overlayId, long startEpochNanos) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES); // big-endian
    b.putLong(MAGIC)
        .putShort((short) VERSION)
        .putShort((short) 0)
        .putInt(CHUNK_SIZE)
        .putLong(startEpochNanos)
        .put(overlayId)
        .putInt(0);
    b.putInt(OFF_CRC, crc(b.array()));
    return b.array();
  }

  /** CRC32C of the header's first 60 bytes. */
  static int crc(byte[] header) {
    CRC32C crc = new CRC32C();
    crc.update(header, 0, OFF_CRC);
    return (int) crc.getValue();
  }
}
