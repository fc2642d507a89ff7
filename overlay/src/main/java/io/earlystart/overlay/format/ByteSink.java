package io.earlystart.overlay.format;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** A growable byte array with the manifest's primitive encodings (LEB128 varints). Not thread-safe. */
final class ByteSink {
  private byte[] buf;
  private int size;

  ByteSink(int capacity) {
    buf = new byte[Math.max(16, capacity)];
  }

  private void ensure(int extra) {
    if (size + extra > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + extra));
    }
  }

  ByteSink u8(int v) {
    ensure(1);
    buf[size++] = (byte) v;
    return this;
  }

  /** Unsigned LEB128. */
  ByteSink varint(long v) {
    if (v < 0) {
      throw new IllegalArgumentException("negative varint " + v);
    }
    ensure(10);
    while ((v & ~0x7FL) != 0) {
      buf[size++] = (byte) ((v & 0x7F) | 0x80);
      v >>>= 7;
    }
    buf[size++] = (byte) v;
    return this;
  }

  /** Signed value, zigzag-encoded. */
  ByteSink zigzag(long v) {
    return varint((v << 1) ^ (v >> 63));
  }

  ByteSink bytes(byte[] b) {
    return bytes(b, 0, b.length);
  }

  ByteSink bytes(byte[] b, int off, int len) {
    ensure(len);
    System.arraycopy(b, off, buf, size, len);
    size += len;
    return this;
  }

  ByteSink string(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    return varint(b.length).bytes(b);
  }

  int size() {
    return size;
  }

  byte[] toByteArray() {
    return Arrays.copyOf(buf, size);
  }

  /** The backing array; valid up to {@link #size()}. */
  byte[] array() {
    return buf;
  }
}
