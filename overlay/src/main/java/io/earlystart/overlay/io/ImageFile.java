package io.earlystart.overlay.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * A read-only image (disk or memory) read by positional reads, with zeros past its end (a chunk of a
 * shorter image compares as zero-padded). Thread-safe: positional reads share no state.
 */
public final class ImageFile implements Closeable {
  private final Path path;
  private final FileChannel channel;
  private final long size;

  private ImageFile(Path path, FileChannel channel) throws IOException {
    this.path = path;
    this.channel = channel;
    this.size = channel.size();
  }

  /** Opens {@code path}; {@code role} ("base disk", ...) names it in the error if it cannot be read. */
  public static ImageFile open(Path path, String role) throws IOException {
    try {
      return new ImageFile(path, FileChannel.open(path, StandardOpenOption.READ));
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(path.toString(), null, role + " not found");
    }
  }

  public Path path() {
    return path;
  }

  public long size() {
    return size;
  }

  /**
   * Reads {@code len} bytes at {@code pos} into {@code dst[off..]}, zero-filling what lies past the
   * end of the image.
   */
  public void read(long pos, byte[] dst, int off, int len) throws IOException {
    int avail = (int) Math.max(0, Math.min(len, size - pos));
    ByteBuffer buf = ByteBuffer.wrap(dst, off, avail);
    long p = pos;
    while (buf.hasRemaining()) {
      int n = channel.read(buf, p);
      if (n < 0) {
        throw new IOException(path + " shrank while being read (at offset " + p + ")");
      }
      p += n;
    }
    if (avail < len) {
      Arrays.fill(dst, off + avail, off + len, (byte) 0);
    }
  }

  /**
   * Copies {@code [pos, pos + count)} of this image to {@code target} at the target's position, in the
   * kernel where it can (sendfile); {@code count} must not reach past the end of this image.
   */
  public void transferTo(long pos, long count, FileChannel target) throws IOException {
    for (long done = 0; done < count; ) {
      long n = channel.transferTo(pos + done, count - done, target);
      if (n <= 0) {
        throw new IOException(path + " shrank while being copied (at offset " + (pos + done) + ")");
      }
      done += n;
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
