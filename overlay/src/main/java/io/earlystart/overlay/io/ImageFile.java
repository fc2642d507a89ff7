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
 * shorter image compares as zero-padded). Opened with {@link #openSparse}, its holes ({@link
 * DataRanges}, asked of the file system at open) read as zeros without a read, so a sparse image costs
 * what it holds, not its size; {@link #open} skips that question (a native call: about 150 ms the first
 * time in a JVM) for readers that only read what they need. Thread-safe: positional reads share no
 * state.
 */
public final class ImageFile implements Closeable {
  private final Path path;
  private final FileChannel channel;
  private final long size;
  private final DataRanges data;

  private ImageFile(Path path, FileChannel channel, boolean sparse) throws IOException {
    this.path = path;
    this.channel = channel;
    this.size = channel.size();
    this.data = sparse ? DataRanges.of(path, size) : DataRanges.allData(size);
  }

  /** Opens {@code path}; {@code role} ("base disk", ...) names it in the error if it cannot be read. */
  public static ImageFile open(Path path, String role) throws IOException {
    return open(path, role, false);
  }

  /**
   * {@link #open}, and asks the file system where the image holds data: {@link #hasData} tells, and
   * {@link #read} reads only that (for readers of every byte: create, the base index).
   */
  public static ImageFile openSparse(Path path, String role) throws IOException {
    return open(path, role, true);
  }

  private static ImageFile open(Path path, String role, boolean sparse) throws IOException {
    FileChannel channel;
    try {
      channel = FileChannel.open(path, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(path.toString(), null, role + " not found");
    }
    try {
      return new ImageFile(path, channel, sparse);
    } catch (IOException | RuntimeException | Error e) {
      try {
        channel.close();
      } catch (IOException c) {
        e.addSuppressed(c);
      }
      throw e;
    }
  }

  public Path path() {
    return path;
  }

  public long size() {
    return size;
  }

  /** Where the image holds data; the rest reads as zeros (all of it is data unless {@link #openSparse}). */
  public DataRanges dataRanges() {
    return data;
  }

  /** Whether any byte of {@code [pos, pos + len)} is data (false: all of it reads as zeros). */
  public boolean hasData(long pos, long len) {
    return data.hasData(pos, len);
  }

  /**
   * Reads {@code len} bytes at {@code pos} into {@code dst[off..]}, zero-filling what lies past the
   * end of the image.
   */
  public void read(long pos, byte[] dst, int off, int len) throws IOException {
    long end = pos + len;
    long p = pos;
    for (int i = data.firstEndingAfter(pos); p < end; i++) {
      long from = i < data.count() ? Math.min(Math.max(data.start(i), p), end) : end;
      if (from > p) {
        Arrays.fill(dst, off + (int) (p - pos), off + (int) (from - pos), (byte) 0); // a hole, or past the end
      }
      if (from == end) {
        break;
      }
      long to = Math.min(data.end(i), end);
      readFully(from, dst, off + (int) (from - pos), (int) (to - from));
      p = to;
    }
  }

  private void readFully(long pos, byte[] dst, int off, int len) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(dst, off, len);
    long p = pos;
    while (buf.hasRemaining()) {
      int n = channel.read(buf, p);
      if (n < 0) {
        throw new IOException(path + " shrank while being read (at offset " + p + ")");
      }
      p += n;
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
