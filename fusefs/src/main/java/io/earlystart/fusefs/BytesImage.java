package io.earlystart.fusefs;

import java.nio.ByteBuffer;

/** A small read-only image held in memory (vmstate, vm.json). Immutable; thread-safe. */
final class BytesImage implements ReadableImage {
  private final byte[] bytes;

  BytesImage(byte[] bytes) {
    this.bytes = bytes;
  }

  @Override
  public long size() {
    return bytes.length;
  }

  @Override
  public int read(long offset, ByteBuffer dst) {
    if (offset >= bytes.length) {
      return -1;
    }
    int n = (int) Math.min(dst.remaining(), bytes.length - offset);
    dst.put(bytes, (int) offset, n);
    return n;
  }
}
