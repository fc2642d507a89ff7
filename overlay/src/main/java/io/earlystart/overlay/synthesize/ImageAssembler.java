package io.earlystart.overlay.synthesize;

import io.earlystart.overlay.base.BaseIndex;
import io.earlystart.overlay.base.ChunkHash;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.io.ImageFile;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes one synthesized image: a sparse file of the image's size into which base ranges and
 * payloads are written by positional writes, all-zero chunks left as holes. {@link #copyBase} and
 * {@link #write} may run concurrently on disjoint chunks (positional writes share no state).
 */
final class ImageAssembler implements AutoCloseable {
  private static final int CS = Manifest.CHUNK_SIZE;

  private final Image image;
  private final Path path;
  private final RandomAccessFile file;
  private final FileChannel channel;
  private final long size;
  private final ChunkTable table;

  ImageAssembler(Image image, Path path, long size, ChunkTable table) throws IOException {
    this.image = image;
    this.path = path;
    this.size = size;
    this.table = table;
    try {
      this.file = new RandomAccessFile(path.toFile(), "rw");
    } catch (java.io.FileNotFoundException e) {
      // the JDK says "PATH (REASON)"
      String m = String.valueOf(e.getMessage());
      String reason = m.endsWith(")") && m.contains(" (") ? m.substring(m.lastIndexOf(" (") + 2, m.length() - 1) : m;
      throw new IOException("cannot create " + path + ": " + reason, e);
    }
    this.channel = file.getChannel();
    try {
      file.setLength(size);
    } catch (IOException e) {
      close();
      throw new IOException("cannot create " + path + ": " + e.getMessage(), e);
    }
  }

  long chunkCount() {
    return Manifest.chunkCount(size, CS);
  }

  int chunkLength(long chunk) {
    return Manifest.chunkLength(size, CS, chunk);
  }

  /**
   * Fills chunks {@code [from, to)} that carry no payload: base bytes at the same offset for chunks
   * absent from the table (copied in the kernel, run by run, skipping zero base chunks), the named
   * base chunk for BASE_*, nothing for ZERO.
   */
  void copyBase(ImageFile[] bases, BaseIndex[] index, long from, long to, AtomicLong progress) throws IOException {
    ImageFile base = bases[image.ordinal()];
    BaseIndex baseIndex = index[image.ordinal()];
    long baseEnd = Math.min(size, base.size());
    byte[] chunk = new byte[CS];
    int e = table.find((int) from);
    e = e >= 0 ? e : -e - 1;
    try (FileChannel target = FileChannel.open(path, StandardOpenOption.WRITE)) {
      long runStart = -1;
      for (long c = from; c <= to; c++) {
        boolean inTable = c < to && e < table.size() && table.chunk(e) == c;
        boolean plain = c < to && !inTable && c * CS < baseEnd && !baseIndex.isZero((int) c);
        if (plain && runStart < 0) {
          runStart = c;
        } else if (!plain && runStart >= 0) {
          long start = runStart * CS;
          long end = Math.min(c * CS, baseEnd);
          target.position(start);
          try {
            base.transferTo(start, end - start, target);
          } catch (IOException ex) {
            throw new IOException("cannot write " + path + ": " + ex.getMessage(), ex);
          }
          runStart = -1;
        }
        if (inTable) {
          ChunkKind kind = table.kind(e++);
          if (kind == ChunkKind.BASE_DISK || kind == ChunkKind.BASE_MEM) {
            int n = chunkLength(c);
            bases[kind.baseImage().ordinal()].read((long) table.arg(e - 1) * CS, chunk, 0, n);
            if (!ChunkHash.isZero(chunk, 0, n)) {
              write(c * CS, chunk, 0, n);
            }
          }
        }
      }
    }
    progress.addAndGet(Math.min(to * CS, size) - from * CS);
  }

  void write(long pos, byte[] src, int off, int len) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(src, off, len);
    try {
      while (b.hasRemaining()) {
        channel.write(b, pos + b.position() - off);
      }
    } catch (IOException e) {
      throw new IOException("cannot write " + path + ": " + e.getMessage(), e);
    }
  }

  void force() throws IOException {
    try {
      channel.force(true);
    } catch (IOException e) {
      throw new IOException("cannot write " + path + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() throws IOException {
    file.close();
  }
}
