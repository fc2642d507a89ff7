package io.earlystart.cli.example;

import java.io.EOFException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/** Page-granular I/O helpers: zero pages are left as holes so the images are sparse. */
final class Sparse {

  static final int PAGE = 4096;
  static final int WINDOW = 4 << 20;
  private static final byte[] ZERO = new byte[PAGE];

  private Sparse() {
  }

  static boolean isZeroPage(byte[] b, int off) {
    return Arrays.equals(b, off, off + PAGE, ZERO, 0, PAGE);
  }

  /** Opens {@code file} for writing, truncated to 0 (later extended with {@link #finish}). */
  static FileChannel create(Path file) throws IOException {
    return FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ);
  }

  /** Writes the non-zero pages of {@code buf[0, len)} at {@code pos}; runs of them in one call each. */
  static void writeNonZeroPages(FileChannel ch, long pos, byte[] buf, int len) throws IOException {
    int i = 0;
    while (i < len) {
      while (i < len && isZeroPage(buf, i)) {
        i += PAGE;
      }
      int start = i;
      while (i < len && !isZeroPage(buf, i)) {
        i += PAGE;
      }
      if (i > start) {
        writeFully(ch, pos + start, ByteBuffer.wrap(buf, start, i - start));
      }
    }
  }

  static void writeFully(FileChannel ch, long pos, ByteBuffer bb) throws IOException {
    while (bb.hasRemaining()) {
      pos += ch.write(bb, pos);
    }
  }

  /** Reads {@code len} bytes at {@code pos}; bytes past the end of file read as zero. */
  static void readFully(FileChannel ch, long pos, byte[] buf, int off, int len) throws IOException {
    ByteBuffer bb = ByteBuffer.wrap(buf, off, len);
    while (bb.hasRemaining()) {
      int n = ch.read(bb, pos);
      if (n < 0) {
        Arrays.fill(buf, bb.position(), off + len, (byte) 0);
        return;
      }
      pos += n;
    }
  }

  /** Reads exactly one page or fails. */
  static void readPage(FileChannel ch, long block, byte[] buf, int off) throws IOException {
    ByteBuffer bb = ByteBuffer.wrap(buf, off, PAGE);
    long pos = block * PAGE;
    while (bb.hasRemaining()) {
      int n = ch.read(bb, pos);
      if (n < 0) {
        throw new EOFException("block " + block + " past end of image");
      }
      pos += n;
    }
  }

  /** Sets the file length to exactly {@code size} (a hole at the end if needed). */
  static void finish(Path file, long size) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(size);
    }
  }

  /** Sparse copy of {@code src} to {@code dst} (replaced). */
  static void copy(Path src, Path dst) throws IOException {
    long size = Files.size(src);
    byte[] buf = new byte[WINDOW];
    try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ); FileChannel out = create(dst)) {
      for (long pos = 0; pos < size; pos += WINDOW) {
        int n = (int) Math.min(WINDOW, size - pos);
        readFully(in, pos, buf, 0, n);
        int whole = n / PAGE * PAGE;
        writeNonZeroPages(out, pos, buf, whole);
        if (whole < n) {
          writeFully(out, pos + whole, ByteBuffer.wrap(buf, whole, n - whole));
        }
      }
    }
    finish(dst, size);
  }
}
