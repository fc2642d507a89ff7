package io.earlystart.overlay.format;

import java.nio.charset.StandardCharsets;

/**
 * Reads what {@link ByteSink} wrote from untrusted bytes: every read is bounds-checked and a bad
 * value becomes a {@link CorruptOverlayException} naming {@code what} and the position. Not thread-safe.
 */
final class ByteSource {
  private final byte[] buf;
  private final int end;
  private final String source;
  private final String what;
  private int pos;

  ByteSource(byte[] buf, int off, int len, String source, String what) {
    this.buf = buf;
    this.pos = off;
    this.end = off + len;
    this.source = source;
    this.what = what;
  }

  CorruptOverlayException corrupt(String reason) {
    return new CorruptOverlayException(source, -1, what + " byte " + pos + ": " + reason);
  }

  int position() {
    return pos;
  }

  int remaining() {
    return end - pos;
  }

  int u8() throws CorruptOverlayException {
    if (pos >= end) {
      throw corrupt("ends early");
    }
    return buf[pos++] & 0xFF;
  }

  long varint() throws CorruptOverlayException {
    long v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      int b = u8();
      v |= (long) (b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        if (v < 0) {
          throw corrupt("varint out of range");
        }
        return v;
      }
    }
    throw corrupt("varint too long");
  }

  /** A varint that must lie in {@code [min, max]}; {@code field} names it in the error. */
  long varint(long min, long max, String field) throws CorruptOverlayException {
    long v = varint();
    if (v < min || v > max) {
      throw corrupt(field + " " + v + " outside [" + min + ", " + max + "]");
    }
    return v;
  }

  int intVarint(long min, long max, String field) throws CorruptOverlayException {
    return Math.toIntExact(varint(min, Math.min(max, Integer.MAX_VALUE), field));
  }

  long zigzag() throws CorruptOverlayException {
    long v = varint0();
    return (v >>> 1) ^ -(v & 1);
  }

  private long varint0() throws CorruptOverlayException {
    long v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      int b = u8();
      v |= (long) (b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        return v;
      }
    }
    throw corrupt("varint too long");
  }

  byte[] bytes(int n) throws CorruptOverlayException {
    if (n < 0 || n > end - pos) {
      throw corrupt("ends early (" + n + " bytes wanted, " + (end - pos) + " left)");
    }
    byte[] out = new byte[n];
    System.arraycopy(buf, pos, out, 0, n);
    pos += n;
    return out;
  }

  String string(int maxBytes) throws CorruptOverlayException {
    int n = intVarint(0, maxBytes, "string length");
    byte[] b = bytes(n);
    return new String(b, StandardCharsets.UTF_8);
  }
}
