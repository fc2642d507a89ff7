package io.earlystart.fusefs.image;

import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkRef;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.PayloadRefs;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.synthesize.SegmentWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;
import org.roaringbitmap.IntConsumer;
import org.roaringbitmap.RoaringBitmap;

/**
 * What every 4 KiB chunk of one image holds now, and the only code that changes it. A chunk is
 *
 * <pre>
 *   not from the overlay    base, ZERO, BASE_DISK, BASE_MEM: read from a base image or zeros, no network
 *   not arrived             DATA / DELTA whose segment has not been applied: a read waits for the segment
 *   arrived                 its overlay bytes are in the cache file                       (inCache)
 *   the guest's             the guest wrote it; the cache file holds the guest's bytes,  (inCache, guest)
 *                           and overlay bytes that arrive later never overwrite them
 * </pre>
 *
 * The verbs: {@link #where} (the read path), {@link #writeGuest} (a guest write), {@link #discard} (the
 * guest discards whole chunks), {@link #applySegment} (the applier, for both images of a segment) and
 * {@link #restore} (what the cache directory kept, at mount). Two rules live here and nowhere else:
 *
 * <ul>
 *   <li>a chunk is marked in the cache only after its bytes are in the cache file and journaled, so a
 *       reader that sees the bit finds the bytes, and a remount after {@code kill -9} trusts exactly what
 *       was journaled;
 *   <li>the guest's first write to a chunk and the applier's write of it take this image's lock, so
 *       whichever comes second sees the other: the applier skips guest chunks, and a partial first guest
 *       write fills the rest of the chunk from what has arrived.
 * </ul>
 *
 * <p>Thread-safe: the state is two lock-free bit sets, so {@link #where} allocates and blocks nothing;
 * the verbs take the image's lock, which is never held while waiting for the network. The cache state
 * and the bases belong to the caller ({@link EarlyImages}).
 */
final class ChunkState {
  /** {@link #where}: the chunk's bytes are in the cache file. */
  static final long CACHE = -1;
  /** {@link #where}: the base image's chunk at the same offset. */
  static final long SAME_BASE = -2;
  /** {@link #where}: all zeros. */
  static final long ZERO = -3;

  private static final int CS = Manifest.CHUNK_SIZE;

  private final Image image;
  private final long size;
  private final ChunkTable table;
  /** Per table entry: the segment holding its payload, or -1 for kinds without payload. */
  private final int[] segmentOfEntry;
  private final Bases bases;
  private final CacheState cache;
  private final Bits inCache;
  private final Bits guest;
  private final ReentrantLock lock = new ReentrantLock();
  /** This image as the segment writer's target; used only under {@link #lock}. */
  private final SegmentWriter.Target target = new Arrivals();

  ChunkState(Image image, Manifest m, Bases bases, CacheState cache) {
    this.image = image;
    this.size = m.imageSize(image);
    this.table = m.table(image);
    this.bases = bases;
    this.cache = cache;
    this.segmentOfEntry = new int[table.size()];
    for (int e = 0; e < table.size(); e++) {
      segmentOfEntry[e] = table.kind(e).hasPayload() ? m.segmentOf(table.arg(e)).index() : -1;
    }
    long chunks = Manifest.chunkCount(size, CS);
    this.inCache = new Bits(chunks);
    this.guest = new Bits(chunks);
  }

  Image image() {
    return image;
  }

  long size() {
    return size;
  }

  int chunkLength(long chunk) {
    return Manifest.chunkLength(size, CS, chunk);
  }

  /** The segment that must arrive before {@code chunk} can be read, or -1 when none is needed. Lock-free. */
  int segmentNeeded(long chunk) {
    if (inCache.get(chunk)) {
      return -1;
    }
    int e = table.find((int) chunk);
    return e < 0 ? -1 : segmentOfEntry[e];
  }

  /**
   * Where chunk {@code c}'s bytes are now: {@link #CACHE}, {@link #SAME_BASE}, {@link #ZERO}, or the
   * {@link ChunkRef} of a base chunk (never negative). Lock-free.
   *
   * @throws IllegalStateException for a chunk that has not arrived (call {@link #segmentNeeded} first)
   */
  long where(long c) {
    if (inCache.get(c)) {
      return CACHE;
    }
    int e = table.find((int) c);
    if (e < 0) {
      return SAME_BASE;
    }
    ChunkKind kind = table.kind(e);
    return switch (kind) {
      case ZERO -> ZERO;
      case BASE_DISK, BASE_MEM -> ChunkRef.of(kind.baseImage(), table.arg(e));
      default -> throw new IllegalStateException(image.fileName + " chunk " + c + " has not arrived");
    };
  }

  /** Whether the guest has written {@code chunk} (its bytes are the guest's for good). Lock-free. */
  boolean isGuests(long chunk) {
    return guest.get(chunk);
  }

  /** Chunks the guest has written (a moment's view). */
  long guestChunks() {
    return guest.cardinality();
  }

  /**
   * Writes the guest's bytes {@code src} at {@code pos}, all within chunk {@code c}. A chunk the guest
   * wrote before takes them straight; the first write claims the chunk under the lock: when
   * {@code partial}, the chunk is first filled with what it reads as now (its segment must have arrived:
   * the caller waits for it, outside the lock), then the bytes are written, the chunk journaled as the
   * guest's and marked.
   */
  void writeGuest(long c, long pos, ByteBuffer src, boolean partial) throws IOException {
    if (guest.get(c)) {
      cache.write(image, pos, src);
      return;
    }
    lock.lock();
    try {
      if (partial && !inCache.get(c)) {
        fill(c);
      }
      cache.write(image, pos, src);
      cache.recordWritten(image, (int) c);
      guest.set(c);
      inCache.set(c);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Writes the guest's bytes {@code src} at {@code pos} straight to the cache file: every chunk they
   * touch is the guest's already ({@link #isGuests}), so nothing arriving can overwrite them.
   */
  void writeGuests(long pos, ByteBuffer src) throws IOException {
    cache.write(image, pos, src);
  }

  /**
   * The guest discards whole chunks {@code [first, end)} (a trim, or freed memory QEMU punches out): they
   * become the guest's and read as zeros, for good. Under the lock, like a first write, so a segment
   * being applied cannot put overlay bytes back: the cache range is zeroed (a hole where the file
   * system can), each chunk not yet the guest's is journaled as written, then marked. The segments of
   * these chunks are no longer needed to read them.
   */
  void discard(long first, long end) throws IOException {
    if (first >= end) {
      return;
    }
    long from = first * CS;
    long to = Math.min(end * CS, size);
    lock.lock();
    try {
      cache.zero(image, from, to - from);
      for (long c = first; c < end; c++) {
        if (!guest.get(c)) {
          cache.recordWritten(image, (int) c);
          guest.set(c);
          inCache.set(c);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /** Copies chunk {@code c} as it reads now (base, zeros or another base chunk) into the cache file. */
  private void fill(long c) throws IOException {
    ByteBuffer bytes = ByteBuffer.allocate(chunkLength(c));
    long from = where(c);
    if (from == SAME_BASE) {
      bases.read(image.ordinal(), c * CS, bytes);
    } else if (from >= 0) {
      bases.read(ChunkRef.image(from), ChunkRef.chunk(from) * CS, bytes);
    } // ZERO: already zeros
    bytes.flip();
    cache.write(image, c * CS, bytes);
  }

  /**
   * Applies one verified segment to both images: with both locks held (disk, then memory: the one
   * order), {@code writer} decodes {@code frame} and writes the bytes of the chunks the guest does not
   * own into the cache files, then the segment is journaled as applied, then its chunks are marked in
   * the cache.
   *
   * @param images both images, in {@link Image} order; they share one cache state
   * @param source the overlay's source, for messages
   */
  static void applySegment(ChunkState[] images, Segment s, byte[] frame, PayloadRefs refs, SegmentWriter writer,
      String source) throws IOException {
    images[0].lock.lock();
    images[1].lock.lock();
    try {
      writer.write(source, s, frame, refs, new SegmentWriter.Target[] {images[0].target, images[1].target});
      images[0].cache.recordApplied(s.index());
      markArrived(images, s, refs);
    } finally {
      images[1].lock.unlock();
      images[0].lock.unlock();
    }
  }

  /** Marks the chunks of segment {@code s} in the cache (after they were written and journaled). */
  private static void markArrived(ChunkState[] images, Segment s, PayloadRefs refs) {
    for (int p = s.firstPayload(); p < s.firstPayload() + s.payloadCount(); p++) {
      for (int r = refs.start(p); r < refs.start(p + 1); r++) {
        long ref = refs.ref(r);
        images[ChunkRef.image(ref)].inCache.set(ChunkRef.chunk(ref));
      }
    }
  }

  /**
   * What the cache directory kept, before anything is mounted: the chunks the guest wrote, and the
   * chunks of the segments applied. Returns those segments (for the scheduler, which fetches the rest).
   */
  static BitSet restore(ChunkState[] images, CacheState cache, Manifest m, PayloadRefs refs) {
    BitSet applied = new BitSet(m.segments().size());
    cache.applied().forEach((IntConsumer) i -> {
      if (i >= 0 && i < m.segments().size()) {
        applied.set(i);
        markArrived(images, m.segments().get(i), refs);
      }
    });
    for (ChunkState s : images) {
      RoaringBitmap written = cache.written(s.image);
      s.guest.setAll(written);
      s.inCache.setAll(written);
    }
    return applied;
  }

  /** This image's cache file as the segment writer's target: chunks the guest wrote keep the guest's bytes. */
  private final class Arrivals implements SegmentWriter.Target {
    @Override
    public int chunkLength(long chunk) {
      return ChunkState.this.chunkLength(chunk);
    }

    @Override
    public boolean takes(long chunk) {
      return !guest.get(chunk);
    }

    @Override
    public void readBase(long chunk, byte[] dst, int len) throws IOException {
      try {
        bases.read(image.ordinal(), chunk * CS, ByteBuffer.wrap(dst, 0, len));
      } catch (IOException e) {
        throw new BaseReadException(image.baseName + ": cannot read chunk " + chunk + ": " + e.getMessage(), e);
      }
    }

    @Override
    public void write(long chunk, byte[] src, int off, int len) throws IOException {
      cache.write(image, chunk * CS, ByteBuffer.wrap(src, off, len));
    }
  }

  /** A DELTA's base chunk could not be read: the base image failed, not the cache directory. */
  static final class BaseReadException extends IOException {
    private static final long serialVersionUID = 1L;

    BaseReadException(String message, IOException cause) {
      super(message, cause);
    }
  }

  /**
   * One bit per chunk, read without a lock and set by compare-and-set: the in-cache and guest bits of a
   * chunk state (the in-cache test runs on every FUSE read), and {@link FirstTouchTrace}'s first touches.
   *
   * <p>Thread-safe. A bit, once set, is never cleared.
   */
  static final class Bits {
    private final AtomicLongArray words;
    private final long size;

    Bits(long size) {
      if (size < 0 || (size + 63) / 64 > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("bad size " + size);
      }
      this.size = size;
      this.words = new AtomicLongArray((int) ((size + 63) / 64));
    }

    long size() {
      return size;
    }

    boolean get(long i) {
      return (words.get((int) (i >>> 6)) & (1L << i)) != 0;
    }

    /** Sets bit {@code i}; true when this call set it (it was clear before). */
    boolean set(long i) {
      int w = (int) (i >>> 6);
      long bit = 1L << i;
      while (true) {
        long old = words.get(w);
        if ((old & bit) != 0) {
          return false;
        }
        if (words.compareAndSet(w, old, old | bit)) {
          return true;
        }
      }
    }

    /** Sets every bit of {@code bits} below {@link #size()}. */
    void setAll(RoaringBitmap bits) {
      bits.forEach((IntConsumer) i -> {
        if (Integer.toUnsignedLong(i) < size) {
          set(Integer.toUnsignedLong(i));
        }
      });
    }

    /** Number of set bits (a moment's view while others set bits). */
    long cardinality() {
      long n = 0;
      for (int w = 0; w < words.length(); w++) {
        n += Long.bitCount(words.get(w));
      }
      return n;
    }
  }
}
