package io.earlystart.fusefs.image;

import java.nio.ByteBuffer;

/** A small read-only file held in memory (an attachment: vmstate, vm.json). Immutable; thread-safe. */
public final class BytesFile implements ReadableFile {
  private final byte[] bytes;

  public BytesFile(byte[] bytes) {
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
