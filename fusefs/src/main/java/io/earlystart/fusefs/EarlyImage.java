package io.earlystart.fusefs;

import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One image of an early-started VM (disk.img or memory.img) as the guest sees it, whole from the
 * first moment while its overlay chunks are still on their way.
 *
 * <p>Read of a 4 KiB chunk: written by the guest or arrived ({@code present}) -> the cache file; not in
 * the overlay -> the base image at the same offset; ZERO -> zeros; BASE_DISK / BASE_MEM -> that base
 * chunk; DATA / DELTA not arrived -> demand its segment and wait, at most the image's wait deadline
 * (then the read fails: EIO for the guest's disk; for memory, where an error kills QEMU, the caller
 * gives a long deadline). The present check is a lock-free bit test; a read that finds everything
 * present allocates nothing.
 *
 * <p>Write: copy-on-write into the cache file. The first write to a chunk takes {@link #mutate} (shared
 * with the {@link OverlayApplier}), journals the chunk as the guest's and marks it written, so overlay
 * bytes that arrive later never overwrite it; a partial first write to a chunk that has not arrived
 * waits for it first (outside the lock), a whole-chunk write does not. Later writes to a written chunk
 * go straight to the cache file.
 *
 * <p>Thread-safe. The cache state and base channels are owned by the caller ({@link EarlyStart}).
 */
public final class EarlyImage implements WritableImage {
  static final int CS = Manifest.CHUNK_SIZE;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(EarlyImage.class);
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(ImageFs.SCRATCH_BYTES);

  /** Where segments come from: a future completed once the segment's chunks are present. */
  @FunctionalInterface
  public interface Segments {
    CompletableFuture<Void> demand(int segment);
  }

  /** Told of every chunk read or written through the mount (first-touch trace recording). */
  @FunctionalInterface
  public interface Touches {
    Touches NONE = (image, chunk) -> {};

    void touch(Image image, long chunk);
  }

  private static final long CACHE = -1;
  private static final long SAME_BASE = -2;
  private static final long ZERO = -3;

  final Image image;
  private final long size;
  private final ChunkTable table;
  /** Per table entry: the segment holding its payload, or -1 for kinds without payload. */
  private final int[] segmentOfEntry;
  private final FileChannel[] bases;
  private final long[] baseSizes;
  private final FileChannel cache;
  final ChunkBits present;
  final ChunkBits written;
  /** Taken for a chunk's first guest write and by the applier; never held while waiting. */
  final ReentrantLock mutate = new ReentrantLock();
  private final CacheState state;
  private final Segments segments;
  private final Duration waitDeadline;
  private final Waits waits;
  private final Touches touches;
  private final String describeSource;

  EarlyImage(Image image, Manifest m, FileChannel[] bases, long[] baseSizes, CacheState state, Segments segments,
      Duration waitDeadline, Waits waits, Touches touches, String describeSource) {
    this.image = image;
    this.size = m.imageSize(image);
    this.table = m.table(image);
    this.bases = bases;
    this.baseSizes = baseSizes;
    this.state = state;
    this.cache = state.cache(image);
    this.segments = segments;
    this.waitDeadline = waitDeadline;
    this.waits = waits;
    this.touches = touches;
    this.describeSource = describeSource;
    this.segmentOfEntry = new int[table.size()];
    for (int e = 0; e < table.size(); e++) {
      segmentOfEntry[e] = table.kind(e).hasPayload() ? m.segmentOf(table.arg(e)).index() : -1;
    }
    long chunks = Manifest.chunkCount(size, CS);
    this.present = new ChunkBits(chunks);
    this.written = new ChunkBits(chunks);
  }

  @Override
  public long size() {
    return size;
  }

  int chunkLength(long chunk) {
    return Manifest.chunkLength(size, CS, chunk);
  }

  /** The segment that must arrive before {@code chunk} can be read, or -1 when none is needed. */
  int segmentNeeded(long chunk) {
    if (present.get(chunk)) {
      return -1;
    }
    int e = table.find((int) chunk);
    return e < 0 ? -1 : segmentOfEntry[e];
  }

  @Override
  public int read(long offset, ByteBuffer dst) throws IOException {
    if (offset >= size) {
      return -1;
    }
    int want = (int) Math.min(dst.remaining(), size - offset);
    if (want == 0) {
      return 0;
    }
    long end = offset + want;
    ensurePresent(offset / CS, (end - 1) / CS);
    int limit = dst.limit();
    try {
      long pos = offset;
      long c = pos / CS;
      long src = locate(c);
      while (pos < end) {
        // extend a run over following chunks of the same kind of source; each chunk is located once
        long runEnd = Math.min(end, (c + 1) * CS);
        long next = 0;
        while (runEnd < end) {
          next = locate(runEnd / CS);
          if (src >= 0 || next != src) {
            break;
          }
          runEnd = Math.min(end, runEnd + CS);
        }
        int n = (int) (runEnd - pos);
        dst.limit(dst.position() + n);
        if (src == CACHE) {
          readFully(cache, pos, dst, size);
        } else if (src == SAME_BASE) {
          readBase(image.ordinal(), pos, dst);
        } else if (src == ZERO) {
          zero(dst, n);
        } else {
          readBase((int) (src >>> 32), (src & 0xFFFFFFFFL) * CS + (pos - c * CS), dst);
        }
        pos = runEnd;
        c = pos / CS;
        src = next;
      }
    } finally {
      dst.limit(limit);
    }
    return want;
  }

  /** Where chunk {@code c}'s bytes are now: CACHE, SAME_BASE, ZERO, or (base image << 32 | base chunk). */
  private long locate(long c) {
    if (present.get(c)) {
      return CACHE;
    }
    int e = table.find((int) c);
    if (e < 0) {
      return SAME_BASE;
    }
    ChunkKind kind = table.kind(e);
    return switch (kind) {
      case ZERO -> ZERO;
      case BASE_DISK, BASE_MEM -> ((long) kind.baseImage().ordinal() << 32) | (table.arg(e) & 0xFFFFFFFFL);
      default -> notArrived(c); // DATA/DELTA: present once ensurePresent has waited for its segment
    };
  }

  private long notArrived(long c) {
    throw new IllegalStateException(image.fileName + " chunk " + c + " is not present after its segment arrived");
  }

  /** Touches chunks {@code [first, last]} and waits for the segments of those that have not arrived. */
  private void ensurePresent(long first, long last) throws IOException {
    int[] need = null;
    int n = 0;
    for (long c = first; c <= last; c++) {
      touches.touch(image, c);
      int seg = segmentNeeded(c);
      if (seg < 0 || (n > 0 && need[n - 1] == seg)) {
        continue;
      }
      if (need == null) {
        need = new int[(int) (last - c + 1)];
      }
      need[n++] = seg;
    }
    if (n > 0) {
      await(need, n, first);
    }
  }

  /** Demands every segment first (they travel together), then waits for all, within one deadline. */
  private void await(int[] need, int n, long chunk) throws IOException {
    long start = System.nanoTime();
    boolean failed = true;
    waits.begin();
    try {
      @SuppressWarnings("unchecked")
      CompletableFuture<Void>[] fs = new CompletableFuture[n];
      for (int i = 0; i < n; i++) {
        fs[i] = segments.demand(need[i]);
        if (LOG.isDebugEnabled() && !fs[i].isDone()) {
          LOG.debug("{}: a read from chunk {} waits for segment {}", image.fileName, chunk, need[i]);
        }
      }
      long deadline = start + waitDeadline.toNanos();
      for (int i = 0; i < n; i++) {
        try {
          fs[i].get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
          throw new IOException(image.fileName + " chunk " + chunk + ": segment " + need[i] + " not fetched from "
              + describeSource + " within " + waitDeadline.toMillis() + " ms", e);
        } catch (ExecutionException e) {
          Throwable cause = e.getCause();
          throw cause instanceof IOException io ? io
              : new IOException(image.fileName + " chunk " + chunk + ": " + cause, cause);
        }
      }
      failed = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for " + image.fileName + " chunk " + chunk);
    } finally {
      waits.end(System.nanoTime() - start, failed);
    }
  }

  @Override
  public void write(long offset, ByteBuffer src) throws IOException {
    int len = src.remaining();
    long end = offset + len;
    if (offset < 0 || end > size) {
      throw new ImageBoundsException(image.fileName + " is " + size + " bytes; cannot write " + len
          + " bytes at " + offset);
    }
    if (len == 0) {
      return;
    }
    long first = offset / CS;
    long last = (end - 1) / CS;
    boolean allWritten = true;
    for (long c = first; c <= last; c++) {
      touches.touch(image, c);
      allWritten &= written.get(c);
    }
    if (allWritten) {
      writeFully(cache, offset, src);
      return;
    }
    int start = src.position();
    int limit = src.limit();
    try {
      for (long c = first; c <= last; c++) {
        long cs = c * CS;
        long ce = Math.min(cs + CS, size);
        long ps = Math.max(offset, cs);
        long pe = Math.min(end, ce);
        src.limit(start + (int) (pe - offset)).position(start + (int) (ps - offset));
        if (written.get(c)) {
          writeFully(cache, ps, src);
          continue;
        }
        boolean whole = ps == cs && pe == ce;
        if (!whole) {
          int seg = segmentNeeded(c);
          if (seg >= 0) {
            await(new int[] {seg}, 1, c);
          }
        }
        mutate.lock();
        try {
          if (!whole && !present.get(c)) {
            fill(c);
          }
          writeFully(cache, ps, src);
          state.recordWritten(image, (int) c);
          written.set(c);
          present.set(c);
        } finally {
          mutate.unlock();
        }
      }
    } finally {
      src.limit(limit).position(limit);
    }
  }

  /** Copies chunk {@code c} as it reads now (base, zero or another base chunk) into the cache file. */
  private void fill(long c) throws IOException {
    int n = chunkLength(c);
    ByteBuffer chunk = ByteBuffer.allocate(n);
    long src = locate(c);
    if (src == SAME_BASE) {
      readBase(image.ordinal(), c * CS, chunk);
    } else if (src >= 0) {
      readBase((int) (src >>> 32), (src & 0xFFFFFFFFL) * CS, chunk);
    } // ZERO: already zeros
    chunk.flip();
    writeFully(cache, c * CS, chunk);
  }

  /** Writes overlay bytes of chunk {@code c} (and the chunks after it, for a run) to the cache (the applier, under {@link #mutate}). */
  void writeArrived(long c, byte[] b, int off, int len) throws IOException {
    writeFully(cache, c * CS, ByteBuffer.wrap(b, off, len));
  }

  @Override
  public void sync() throws IOException {
    state.sync();
  }

  /** Reads base image {@code which} at {@code pos} into all of {@code dst}'s remaining bytes, zeros past its end. */
  private void readBase(int which, long pos, ByteBuffer dst) throws IOException {
    int n = dst.remaining();
    long avail = Math.max(0, Math.min(n, baseSizes[which] - pos));
    if (avail > 0) {
      int limit = dst.limit();
      dst.limit(dst.position() + (int) avail);
      try {
        readFully(bases[which], pos, dst, baseSizes[which]);
      } finally {
        dst.limit(limit);
      }
    }
    if (avail < n) {
      zero(dst, n - (int) avail);
    }
  }

  /** Reads base chunk bytes for a DELTA (the applier): {@code len} bytes at {@code pos}, zeros past the end. */
  void readSameBase(long pos, byte[] dst, int len) throws IOException {
    readBase(image.ordinal(), pos, ByteBuffer.wrap(dst, 0, len));
  }

  private static void zero(ByteBuffer dst, int n) {
    for (int done = 0; done < n; ) {
      int part = Math.min(n - done, ZEROS.capacity());
      dst.put(dst.position(), ZEROS, 0, part);
      dst.position(dst.position() + part);
      done += part;
    }
  }

  private static void readFully(FileChannel ch, long pos, ByteBuffer dst, long fileSize) throws IOException {
    long p = pos;
    while (dst.hasRemaining()) {
      int r = ch.read(dst, p);
      if (r < 0) {
        throw new IOException("unexpected end of file at " + p + " (size " + fileSize + ")");
      }
      p += r;
    }
  }

  private static void writeFully(FileChannel ch, long pos, ByteBuffer src) throws IOException {
    long p = pos;
    while (src.hasRemaining()) {
      p += ch.write(src, p);
    }
  }

  /** A write outside the image: the guest gets ENOSPC, as at the end of a block device. */
  public static final class ImageBoundsException extends IOException {
    private static final long serialVersionUID = 1L;

    ImageBoundsException(String message) {
      super(message);
    }
  }
}
