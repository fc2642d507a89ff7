package io.earlystart.fusefs.image;

import io.earlystart.fetcher.SegmentWait;
import io.earlystart.overlay.format.ChunkRef;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One image of an early-started VM (disk.img or memory.img) as the guest sees it, whole from the
 * first moment while its overlay chunks are still on their way: the read and write paths over the
 * image's {@link ChunkState}.
 *
 * <p>Read: every chunk the read covers that has not arrived has its segment fetched ahead of the stream
 * (all of them first, so they travel together), then the read waits for them within one deadline (then
 * it fails: EIO for the guest's disk; for memory, where an error kills QEMU, the caller gives a long
 * deadline); then each run of chunks is read from where {@link ChunkState#where} says its bytes are. A
 * read that finds everything there allocates nothing.
 *
 * <p>Write: copy-on-write into the cache file through {@link ChunkState#writeGuest}, one chunk at a
 * time; a partial first write to a chunk that has not arrived waits for it first, a whole-chunk write
 * does not.
 *
 * <p>Thread-safe. The chunk state, bases and cache belong to the caller ({@link EarlyImages}).
 */
public final class EarlyImage implements WritableFile {
  private static final int CS = Manifest.CHUNK_SIZE;
  private static final Logger LOG = LoggerFactory.getLogger(EarlyImage.class);

  /**
   * How a read gets a segment that has not arrived: {@code SegmentScheduler::fetchNow} in a mount, a
   * test's own in unit tests. Implementations must be thread-safe and must not block.
   */
  @FunctionalInterface
  public interface SegmentFetch {
    /**
     * Fetches {@code segment} ahead of the background stream; the future completes once its chunks are
     * in the cache (one fetch shared by every caller), or fails with what stopped fetching.
     */
    CompletableFuture<Void> fetchNow(int segment);
  }

  /** Told of every chunk read or written through the mount (first-touch trace recording). */
  @FunctionalInterface
  public interface Touches {
    Touches NONE = (image, chunk) -> {};

    void touch(Image image, long chunk);
  }

  private final Image image;
  private final ChunkState state;
  private final Bases bases;
  private final CacheState cache;
  private final FileChannel cacheFile;
  private final SegmentFetch fetch;
  private final Duration waitDeadline;
  private final Waits waits;
  private final Touches touches;
  private final SegmentWait segmentWait;

  EarlyImage(ChunkState state, Bases bases, CacheState cache, SegmentFetch fetch, Duration waitDeadline, Waits waits,
      Touches touches, SegmentWait segmentWait) {
    this.image = state.image();
    this.state = state;
    this.bases = bases;
    this.cache = cache;
    this.cacheFile = cache.cache(image);
    this.fetch = fetch;
    this.waitDeadline = waitDeadline;
    this.waits = waits;
    this.touches = touches;
    this.segmentWait = segmentWait;
  }

  @Override
  public long size() {
    return state.size();
  }

  /** {@code disk.img} or {@code memory.img}. */
  public String fileName() {
    return image.fileName;
  }

  /** The segment that must arrive before {@code chunk} can be read, or -1 when none is needed. */
  public int segmentNeeded(long chunk) {
    return state.segmentNeeded(chunk);
  }

  @Override
  public int read(long offset, ByteBuffer dst) throws IOException {
    long size = state.size();
    if (offset >= size) {
      return -1;
    }
    int want = (int) Math.min(dst.remaining(), size - offset);
    if (want == 0) {
      return 0;
    }
    long end = offset + want;
    ensureArrived(offset / CS, (end - 1) / CS);
    int limit = dst.limit();
    try {
      long pos = offset;
      long c = pos / CS;
      long src = state.where(c);
      while (pos < end) {
        // extend a run over following chunks of the same kind of source; each chunk is located once
        long runEnd = Math.min(end, (c + 1) * CS);
        long next = 0;
        while (runEnd < end) {
          next = state.where(runEnd / CS);
          if (src >= 0 || next != src) {
            break;
          }
          runEnd = Math.min(end, runEnd + CS);
        }
        int n = (int) (runEnd - pos);
        dst.limit(dst.position() + n);
        if (src == ChunkState.CACHE) {
          Bases.readFully(cacheFile, pos, dst, size);
        } else if (src == ChunkState.SAME_BASE) {
          bases.read(image.ordinal(), pos, dst);
        } else if (src == ChunkState.ZERO) {
          Bases.zero(dst, n);
        } else {
          bases.read(ChunkRef.image(src), ChunkRef.chunk(src) * CS + (pos - c * CS), dst);
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

  /** Touches chunks {@code [first, last]} and waits for the segments of those that have not arrived. */
  private void ensureArrived(long first, long last) throws IOException {
    int[] need = null;
    int n = 0;
    for (long c = first; c <= last; c++) {
      touches.touch(image, c);
      int seg = state.segmentNeeded(c);
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

  /** Fetches every segment first (they travel together), then waits for all, within one deadline. */
  private void await(int[] need, int n, long chunk) throws IOException {
    long start = System.nanoTime();
    boolean failed = true;
    waits.begin();
    try {
      @SuppressWarnings("unchecked")
      CompletableFuture<Void>[] fs = new CompletableFuture[n];
      for (int i = 0; i < n; i++) {
        fs[i] = fetch.fetchNow(need[i]);
        if (LOG.isDebugEnabled() && !fs[i].isDone()) {
          LOG.debug("{}: a read from chunk {} waits for segment {}", image.fileName, chunk, need[i]);
        }
      }
      segmentWait.awaitAll(fs, need, n, start, waitDeadline, image.fileName + " chunk " + chunk + ": ");
      failed = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for " + image.fileName + " chunk " + chunk);
    } finally {
      waits.end(System.nanoTime() - start, failed);
    }
  }

  @Override
  public void discard(long offset, long length) throws IOException {
    long size = state.size();
    if (offset < 0 || length < 0 || offset > size - length) {
      throw new ImageBoundsException(image.fileName + " is " + size + " bytes; cannot discard " + length
          + " bytes at " + offset);
    }
    long end = offset + length;
    // whole chunks [first, last): the short last chunk of the image is whole when the range reaches the end
    long first = (offset + CS - 1) / CS;
    long last = end == size ? (end + CS - 1) / CS : end / CS;
    if (first >= last) {
      write(offset, ByteBuffer.allocate((int) length)); // within at most two chunks, none whole: zeros
      return;
    }
    if (offset < first * CS) {
      write(offset, ByteBuffer.allocate((int) (first * CS - offset)));
    }
    state.discard(first, last);
    if (last * CS < end) {
      write(last * CS, ByteBuffer.allocate((int) (end - last * CS)));
    }
  }

  @Override
  public void write(long offset, ByteBuffer src) throws IOException {
    int len = src.remaining();
    long end = offset + len;
    long size = state.size();
    if (offset < 0 || end > size) {
      throw new ImageBoundsException(image.fileName + " is " + size + " bytes; cannot write " + len
          + " bytes at " + offset);
    }
    if (len == 0) {
      return;
    }
    long first = offset / CS;
    long last = (end - 1) / CS;
    boolean allGuests = true;
    for (long c = first; c <= last; c++) {
      touches.touch(image, c);
      allGuests &= state.isGuests(c);
    }
    if (allGuests) {
      state.writeGuests(offset, src);
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
        boolean partial = ps != cs || pe != ce;
        if (partial && !state.isGuests(c)) {
          int seg = state.segmentNeeded(c);
          if (seg >= 0) {
            await(new int[] {seg}, 1, c);
          }
        }
        state.writeGuest(c, ps, src, partial);
      }
    } finally {
      src.limit(limit).position(limit);
    }
  }

  @Override
  public void sync() throws IOException {
    cache.sync();
  }

  /**
   * How long readers waited for chunks that had not arrived: a count, the number waiting now, and the
   * last {@value #KEPT} wait times for percentiles. Only reads that had to wait are recorded, so this
   * is off the hot path. Thread-safe, lock-free.
   */
  static final class Waits {
    static final int KEPT = 4096;

    private final AtomicLong count = new AtomicLong();
    private final AtomicLong totalNanos = new AtomicLong();
    private final AtomicInteger waitingNow = new AtomicInteger();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLongArray recent = new AtomicLongArray(KEPT);

    void begin() {
      waitingNow.incrementAndGet();
    }

    void end(long nanos, boolean failed) {
      waitingNow.decrementAndGet();
      long n = count.getAndIncrement();
      recent.set((int) (n % KEPT), nanos);
      totalNanos.addAndGet(nanos);
      if (failed) {
        errors.incrementAndGet();
      }
    }

    long count() {
      return count.get();
    }

    int waitingNow() {
      return waitingNow.get();
    }

    long errors() {
      return errors.get();
    }

    long totalNanos() {
      return totalNanos.get();
    }

    /** The {@code qs} quantiles (0..1) of the kept wait times in nanoseconds, from one sort; 0s when none. */
    long[] quantilesNanos(double... qs) {
      long[] out = new long[qs.length];
      int n = (int) Math.min(count.get(), KEPT);
      if (n == 0) {
        return out;
      }
      long[] v = new long[n];
      for (int i = 0; i < n; i++) {
        v[i] = recent.get(i);
      }
      Arrays.sort(v);
      for (int k = 0; k < qs.length; k++) {
        int rank = (int) Math.ceil(qs[k] * n) - 1; // nearest rank
        out[k] = v[Math.max(0, Math.min(n - 1, rank))];
      }
      return out;
    }
  }
}
