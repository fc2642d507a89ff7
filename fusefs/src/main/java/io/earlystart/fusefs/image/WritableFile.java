package io.earlystart.fusefs.image;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A {@link ReadableFile} the guest may also write: the size stays fixed, writes land in a local
 * cache and win over anything that arrives later. Thread-safe like {@link ReadableFile}.
 */
public interface WritableFile extends ReadableFile {

  /**
   * Writes all of {@code src} (its remaining bytes) at {@code offset}, which must lie within the image.
   *
   * @throws IOException on any failure; the writer then sees an errno, nothing is half-acknowledged
   */
  void write(long offset, ByteBuffer src) throws IOException;

  /**
   * Discards {@code [offset, offset + length)}, which must lie within the image: it reads as zeros from
   * now on, like a write of zeros, and nothing that arrives later changes it (the guest's trim, or the
   * free pages QEMU punches out of guest RAM: {@code fallocate(PUNCH_HOLE|KEEP_SIZE)}).
   *
   * @throws IOException on any failure; the caller then sees an errno
   */
  void discard(long offset, long length) throws IOException;

  /** Makes every write so far durable (the guest's {@code fsync}). */
  void sync() throws IOException;
}
