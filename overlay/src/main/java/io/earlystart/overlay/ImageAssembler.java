package io.earlystart.overlay;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes one synthesized image: a sparse file of the image's size into which base ranges and
 * payloads are written by positional writes, all-zero chunks left as holes. {@link #copyBase} and
 * {@link #write} may run concurrently on disjoint chunks (positional writes share no state).
 */
final class ImageAssembler implements AutoCloseable {
  private static final int CS = Manifest.CHUNK_SIZE;
  private static final int BLOCK = 1 << 20;

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
    this.file = new RandomAccessFile(path.toFile(), "rw");
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
   * absent from the table, the named base chunk for BASE_*, nothing for ZERO.
   */
  void copyBase(ImageFile[] bases, long from, long to, AtomicLong progress) throws IOException {
    ImageFile base = bases[image.ordinal()];
    byte[] block = new byte[BLOCK];
    int e = table.find((int) from);
    e = e >= 0 ? e : -e - 1;
    for (long c = from; c < to; ) {
      long pos = c * CS;
      int len = (int) Math.min(BLOCK, Math.min((to - c) * CS, size - pos));
      base.read(pos, block, 0, len);
      int runStart = -1;
      for (int off = 0; off < len; off += CS, c++) {
        int n = Math.min(CS, len - off);
        boolean keep = true;
        if (e < table.size() && table.chunk(e) == c) {
          ChunkKind kind = table.kind(e);
          if (kind == ChunkKind.BASE_DISK || kind == ChunkKind.BASE_MEM) {
            bases[kind.baseImage().ordinal()].read((long) table.arg(e) * CS, block, off, n);
          } else {
            keep = false; // ZERO stays a hole; DATA and DELTA come from segments
          }
          e++;
        }
        keep = keep && !ChunkHash.isZero(block, off, n);
        if (keep && runStart < 0) {
          runStart = off;
        } else if (!keep && runStart >= 0) {
          write(pos + runStart, block, runStart, off - runStart);
          runStart = -1;
        }
      }
      if (runStart >= 0) {
        write(pos + runStart, block, runStart, len - runStart);
      }
      progress.addAndGet(len);
    }
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
    channel.force(true);
  }

  @Override
  public void close() throws IOException {
    file.close();
  }
}
