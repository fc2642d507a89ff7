package io.earlystart.fusefs.image;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A read-only file of fixed size that the mount shows (an image, an attachment).
 *
 * <p>Implementations must be thread-safe: the FUSE loop is multi-threaded and calls {@link #read}
 * concurrently from several threads. The caller owns {@code dst}; an implementation must not keep a
 * reference to it after {@code read} returns.
 */
public interface ReadableFile {

  /** The size in bytes; constant for the lifetime of the mount. */
  long size();

  /**
   * Reads up to {@code dst.remaining()} bytes starting at {@code offset} into {@code dst}, advancing
   * its position.
   *
   * @return the number of bytes read (at least 1 while {@code offset < size()} and {@code
   *     dst.hasRemaining()}), or -1 at or past the end of the file
   * @throws IOException on any failure; the reader then sees {@code EIO}, never a short read
   */
  int read(long offset, ByteBuffer dst) throws IOException;
}
