package io.earlystart.fusefs.image;

import io.earlystart.overlay.format.Image;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The two base images, open for positional reads: where every chunk the overlay does not carry comes
 * from. A base may be shorter than the customised image; past its end it reads as zeros.
 *
 * <p>Thread-safe (positional reads only). Owns the channels; {@link #close()} closes them.
 */
final class Bases implements Closeable {
  /** Zeros for the parts of a read past a base's end (and ZERO chunks). */
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(128 << 10);

  private final Path[] paths;
  private final FileChannel[] channels = new FileChannel[2];
  private final long[] sizes = new long[2];

  private Bases(Path[] paths) {
    this.paths = paths;
  }

  /** Opens {@code paths} (base disk, base memory, in {@link Image} order) for reading. */
  static Bases open(Path[] paths) throws IOException {
    Bases b = new Bases(paths.clone());
    try {
      for (Image image : Image.values()) {
        Path p = paths[image.ordinal()];
        try {
          b.channels[image.ordinal()] = FileChannel.open(p, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
          throw new NoSuchFileException(p.toString(), null, image.baseName + " not found");
        }
        b.sizes[image.ordinal()] = b.channels[image.ordinal()].size();
      }
      return b;
    } catch (IOException | RuntimeException e) {
      try {
        b.close();
      } catch (IOException s) {
        e.addSuppressed(s);
      }
      throw e;
    }
  }

  Path[] paths() {
    return paths.clone();
  }

  /** Sizes in bytes, in {@link Image} order. */
  long[] sizes() {
    return sizes.clone();
  }

  /**
   * Reads base image {@code image} (ordinal) at {@code pos} into all of {@code dst}'s remaining bytes,
   * zeros past its end.
   */
  void read(int image, long pos, ByteBuffer dst) throws IOException {
    int n = dst.remaining();
    long avail = Math.max(0, Math.min(n, sizes[image] - pos));
    if (avail > 0) {
      int limit = dst.limit();
      dst.limit(dst.position() + (int) avail);
      try {
        readFully(channels[image], pos, dst, sizes[image]);
      } finally {
        dst.limit(limit);
      }
    }
    if (avail < n) {
      zero(dst, n - (int) avail);
    }
  }

  /** Puts {@code n} zero bytes into {@code dst} (allocates nothing). */
  static void zero(ByteBuffer dst, int n) {
    for (int done = 0; done < n; ) {
      int part = Math.min(n - done, ZEROS.capacity());
      dst.put(dst.position(), ZEROS, 0, part);
      dst.position(dst.position() + part);
      done += part;
    }
  }

  /** Reads all of {@code dst}'s remaining bytes from {@code ch} at {@code pos}; the end of the file is an error. */
  static void readFully(FileChannel ch, long pos, ByteBuffer dst, long fileSize) throws IOException {
    long p = pos;
    while (dst.hasRemaining()) {
      int r = ch.read(dst, p);
      if (r < 0) {
        throw new IOException("unexpected end of file at " + p + " (size " + fileSize + ")");
      }
      p += r;
    }
  }

  @Override
  public void close() throws IOException {
    io.earlystart.overlay.io.Closer.closeAll(java.util.Arrays.asList(channels));
  }
}
