package io.earlystart.fusefs.image;

import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.io.Closer;
import io.earlystart.overlay.io.DataRanges;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;
import org.roaringbitmap.RoaringBitmap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a mount keeps in its cache directory so that a remount, after a clean unmount or a
 * {@code kill -9}, fetches no applied segment again and loses no guest write.
 *
 * <pre>
 * DIR/lock            held (fcntl) while a mount uses DIR: two mounts never share a cache
 * DIR/overlay-id      the overlay id (hex) the cache belongs to
 * DIR/disk.cache      sparse, the size of the image: applied overlay chunks and guest writes
 * DIR/memory.cache
 * DIR/state           snapshot: "ESCACHE1" applied:bitmap diskWritten:bitmap memWritten:bitmap crc32c:u32
 *                     (bitmap := length:u32 RoaringBitmap-portable-bytes; big-endian)
 * DIR/journal         records since the snapshot, 12 bytes each, little-endian:
 *                     kind:u8 (1 applied, 2 written) image:u8 zero:u16 index:u32 crc32c(first 8):u32
 * </pre>
 *
 * A record is appended (one {@code write}) <em>after</em> the bytes it vouches for were written to the
 * cache file, so after a {@code kill -9} (page cache intact) every journaled chunk is there. A torn or
 * bad record ends the replay: what follows it was never acknowledged. {@link #sync} forces the cache
 * files before the journal, so after a power loss too a record never vouches for bytes that did not
 * reach the disk, as far as the guest had asked for durability.
 *
 * <p>Every {@value #CHECKPOINT_RECORDS} records the state is folded into a new snapshot. The thread whose
 * record reached that number first flushes the cache files without holding the monitor (the long part:
 * all that the applier and the guest wrote since the last checkpoint), then, under the monitor, flushes
 * them again (only what was written meanwhile) and writes the snapshot; the other threads go on
 * recording meanwhile.
 *
 * <p>Thread-safe: one monitor guards the bitmaps (RoaringBitmap is not thread-safe) and the journal.
 */
public final class CacheState implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(CacheState.class);
  private static final byte[] MAGIC = "ESCACHE1".getBytes(StandardCharsets.US_ASCII);
  static final int RECORD = 12;
  private static final byte APPLIED = 1;
  private static final byte WRITTEN = 2;
  /** Journal records before the state is folded into a new snapshot. */
  static final int CHECKPOINT_RECORDS = 1 << 16;

  /** Makes a cache file's data durable; a test may wrap it to delay or fail it. */
  interface Flush {
    Flush FORCE = c -> c.force(false);

    void force(FileChannel cache) throws IOException;
  }

  private final Path dir;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final FileChannel[] caches = new FileChannel[2];
  /**
   * Per image, the cache file held open for hole punching, from its first discard on (each image's
   * discards come one at a time, under its {@code ChunkState} lock); null before, or once the file system
   * said it cannot punch (then {@link #cannotPunch}).
   */
  private final DataRanges.Puncher[] punchers = new DataRanges.Puncher[2];
  private final boolean[] cannotPunch = new boolean[2];
  private final FileChannel journal;
  private final RoaringBitmap applied;
  private final RoaringBitmap[] written;
  private final ByteBuffer record = ByteBuffer.allocate(RECORD).order(ByteOrder.LITTLE_ENDIAN);
  private final CRC32C crc = new CRC32C();
  private final Flush flush;
  private long journalEnd;
  private int journalRecords;
  /** A thread is flushing the caches for a checkpoint outside the monitor; no other starts one. */
  private boolean checkpointRunning;
  private boolean closed;

  private CacheState(Path dir, FileChannel lockChannel, FileLock lock, FileChannel journal, RoaringBitmap applied,
      RoaringBitmap[] written, Flush flush) {
    this.dir = dir;
    this.flush = flush;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.journal = journal;
    this.applied = applied;
    this.written = written;
  }

  /** The cache directory. */
  Path dir() {
    return dir;
  }

  /**
   * Opens (or creates) the cache in {@code dir} for the overlay {@code overlayId} with images of
   * {@code imageSizes} bytes, replaying the journal.
   *
   * @throws IOException the directory is in use by another mount, belongs to another overlay, or is
   *     damaged in a way that replay cannot repair
   */
  public static CacheState open(Path dir, String overlayId, long[] imageSizes) throws IOException {
    return open(dir, overlayId, imageSizes, Flush.FORCE);
  }

  /** {@link #open(Path, String, long[])} with the cache files flushed by {@code flush}. */
  static CacheState open(Path dir, String overlayId, long[] imageSizes, Flush flush) throws IOException {
    Files.createDirectories(dir);
    FileChannel lockChannel = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = lockChannel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      lockChannel.close();
      throw new IOException("cache directory " + dir + " is in use by another mount");
    }
    try {
      Path idFile = dir.resolve("overlay-id");
      if (Files.exists(idFile)) {
        String have = Files.readString(idFile, StandardCharsets.US_ASCII).trim();
        if (!have.equals(overlayId)) {
          throw new IOException("cache directory " + dir + " holds overlay " + have + ", not " + overlayId
              + "; use another --cache-dir or delete it");
        }
      } else {
        writeAtomically(idFile, (overlayId + "\n").getBytes(StandardCharsets.US_ASCII));
      }
      RoaringBitmap applied = new RoaringBitmap();
      RoaringBitmap[] written = {new RoaringBitmap(), new RoaringBitmap()};
      readSnapshot(dir.resolve("state"), applied, written);
      FileChannel journal = FileChannel.open(dir.resolve("journal"), StandardOpenOption.CREATE,
          StandardOpenOption.READ, StandardOpenOption.WRITE);
      CacheState s = new CacheState(dir, lockChannel, lock, journal, applied, written, flush);
      try {
        s.replay();
        for (Image image : Image.values()) {
          s.caches[image.ordinal()] = openCache(dir.resolve(cacheName(image)), imageSizes[image.ordinal()]);
        }
      } catch (IOException | RuntimeException e) {
        s.closeChannels();
        throw e;
      }
      return s;
    } catch (IOException | RuntimeException e) {
      lock.release();
      lockChannel.close();
      throw e;
    }
  }

  static String cacheName(Image image) {
    return image == Image.DISK ? "disk.cache" : "memory.cache";
  }

  private static FileChannel openCache(Path file, long size) throws IOException {
    java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw"); // its channel closes it
    try {
      long have = raf.length();
      if (have != size) {
        if (have != 0) {
          throw new IOException("cache file " + file + " is " + have + " bytes, the image " + size);
        }
        raf.setLength(size); // sparse
      }
      return raf.getChannel();
    } catch (IOException e) {
      raf.close();
      throw e;
    }
  }

  /** The cache file of {@code image}, for positional reads (shared by many threads; writes go through {@link #write}). */
  FileChannel cache(Image image) {
    return caches[image.ordinal()];
  }

  /**
   * Writes all of {@code src} into the cache file of {@code image} at {@code pos} (positional: any thread).
   *
   * @throws CacheFullException when the cache directory's file system has no room left
   */
  void write(Image image, long pos, ByteBuffer src) throws IOException {
    FileChannel c = caches[image.ordinal()];
    long p = pos;
    try {
      while (src.hasRemaining()) {
        p += c.write(src, p);
      }
    } catch (IOException e) {
      throw full(e);
    }
  }

  /**
   * Makes {@code [pos, pos + len)} of the cache file of {@code image} read as zeros: a hole punched in
   * it, or zeros written where the file system cannot punch.
   */
  void zero(Image image, long pos, long len) throws IOException {
    if (len <= 0 || punch(image, pos, len)) {
      return;
    }
    ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(len, 1 << 20));
    for (long done = 0; done < len; ) {
      int n = (int) Math.min(len - done, zeros.capacity());
      write(image, pos + done, zeros.clear().limit(n));
      done += n;
    }
  }

  /** A hole punched through the image's held-open file; false when its file system cannot punch. */
  private boolean punch(Image image, long pos, long len) throws IOException {
    int i = image.ordinal();
    if (cannotPunch[i]) {
      return false;
    }
    if (punchers[i] == null) {
      punchers[i] = DataRanges.puncher(dir.resolve(cacheName(image)));
    }
    if (punchers[i].punch(pos, len)) {
      return true;
    }
    cannotPunch[i] = true;
    punchers[i].close();
    punchers[i] = null;
    return false;
  }

  /**
   * {@code e} from a failed write, as a {@link CacheFullException} when the file system of the cache
   * directory has less than a chunk of room left (asked of the file system: a {@code FileChannel} gives
   * no errno), else as it is.
   */
  private IOException full(IOException e) {
    try {
      if (Files.getFileStore(dir).getUsableSpace() < 4096) {
        return new CacheFullException(e.getMessage(), e);
      }
    } catch (IOException | RuntimeException probe) {
      e.addSuppressed(probe);
    }
    return e;
  }

  /** Segments applied so far, a copy. */
  public synchronized RoaringBitmap applied() {
    return applied.clone();
  }

  /** Chunks of {@code image} the guest wrote, a copy. */
  public synchronized RoaringBitmap written(Image image) {
    return written[image.ordinal()].clone();
  }

  /**
   * Records that every chunk of {@code segment} is in the cache files (call after writing them). The
   * call that makes a checkpoint due also flushes the cache files first.
   */
  void recordApplied(int segment) throws IOException {
    boolean due;
    synchronized (this) {
      due = applied.checkedAdd(segment) && append(APPLIED, 0, segment);
    }
    if (due) {
      runDueCheckpoint();
    }
  }

  /**
   * Records that the guest owns {@code chunk} of {@code image} (call after writing it to the cache). The
   * call that makes a checkpoint due also flushes the cache files first.
   */
  void recordWritten(Image image, int chunk) throws IOException {
    boolean due;
    synchronized (this) {
      due = written[image.ordinal()].checkedAdd(chunk) && append(WRITTEN, image.ordinal(), chunk);
    }
    if (due) {
      runDueCheckpoint();
    }
  }

  /** Appends a record; true when this record made a checkpoint due (the caller then runs it). */
  private boolean append(byte kind, int image, int index) throws IOException {
    if (closed) {
      throw new IOException("cache " + dir + " is closed");
    }
    record.clear();
    record.put(kind).put((byte) image).putShort((short) 0).putInt(index);
    crc.reset();
    crc.update(record.array(), 0, 8);
    record.putInt((int) crc.getValue()).flip();
    try {
      while (record.hasRemaining()) {
        journalEnd += journal.write(record, journalEnd);
      }
    } catch (IOException e) {
      throw full(e);
    }
    if (++journalRecords >= CHECKPOINT_RECORDS && !checkpointRunning) {
      checkpointRunning = true;
      return true;
    }
    return false;
  }

  /** The flush outside the monitor, then {@link #checkpoint} (which flushes again, briefly). */
  private void runDueCheckpoint() throws IOException {
    try {
      try {
        for (FileChannel c : caches) {
          flush.force(c);
        }
      } catch (IOException e) {
        synchronized (this) {
          if (closed) {
            return; // closed meanwhile: close() checkpointed under the monitor
          }
        }
        throw e;
      }
      synchronized (this) {
        if (!closed) {
          checkpoint();
        }
      }
    } finally {
      synchronized (this) {
        checkpointRunning = false;
      }
    }
  }

  /** Makes the cache files and then the journal durable (the guest's fsync). */
  void sync() throws IOException {
    for (FileChannel c : caches) {
      flush.force(c);
    }
    synchronized (this) {
      if (!closed) {
        journal.force(false);
      }
    }
  }

  /** Folds the journal into a new snapshot (written, forced, renamed), then empties the journal. */
  synchronized void checkpoint() throws IOException {
    for (FileChannel c : caches) {
      if (c != null) {
        flush.force(c);
      }
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.write(MAGIC);
      for (RoaringBitmap b : new RoaringBitmap[] {applied, written[0], written[1]}) {
        b.runOptimize();
        out.writeInt(b.serializedSizeInBytes());
        b.serialize(out);
      }
    }
    byte[] snapshot = bytes.toByteArray();
    CRC32C c = new CRC32C();
    c.update(snapshot);
    bytes.write(ByteBuffer.allocate(4).putInt((int) c.getValue()).array());
    writeAtomically(dir.resolve("state"), bytes.toByteArray());
    journal.truncate(0);
    journal.force(false);
    journalEnd = 0;
    journalRecords = 0;
  }

  private static void readSnapshot(Path file, RoaringBitmap applied, RoaringBitmap[] written) throws IOException {
    if (!Files.exists(file)) {
      return;
    }
    byte[] all = Files.readAllBytes(file);
    CRC32C c = new CRC32C();
    c.update(all, 0, Math.max(0, all.length - 4));
    if (all.length < MAGIC.length + 16 || !java.util.Arrays.equals(all, 0, MAGIC.length, MAGIC, 0, MAGIC.length)
        || ByteBuffer.wrap(all, all.length - 4, 4).getInt() != (int) c.getValue()) {
      throw new IOException("cache state " + file + " is damaged (bad magic or checksum); delete the cache "
          + "directory to start over");
    }
    try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(all, MAGIC.length,
        all.length - MAGIC.length - 4))) {
      for (RoaringBitmap b : new RoaringBitmap[] {applied, written[0], written[1]}) {
        int len = in.readInt();
        byte[] raw = in.readNBytes(len);
        if (raw.length != len) {
          throw new IOException("cache state " + file + " is truncated");
        }
        b.deserialize(ByteBuffer.wrap(raw));
        b.validate();
      }
    } catch (RuntimeException e) {
      throw new IOException("cache state " + file + " is damaged: " + e.getMessage(), e);
    }
  }

  /** Applies the journal's records; cuts it at the first torn or bad record. */
  private void replay() throws IOException {
    long size = journal.size();
    ByteBuffer all = ByteBuffer.allocate((int) Math.min(size, Integer.MAX_VALUE)).order(ByteOrder.LITTLE_ENDIAN);
    while (all.hasRemaining() && journal.read(all, all.position()) > 0) {
      // read all
    }
    all.flip();
    long good = 0;
    while (all.remaining() >= RECORD) {
      int at = all.position();
      byte kind = all.get();
      byte image = all.get();
      all.getShort();
      int index = all.getInt();
      int sum = all.getInt();
      crc.reset();
      crc.update(all.array(), at, 8);
      if (sum != (int) crc.getValue() || (kind != APPLIED && kind != WRITTEN) || image < 0 || image > 1) {
        break;
      }
      if (kind == APPLIED) {
        applied.add(index);
      } else {
        written[image].add(index);
      }
      good += RECORD;
      journalRecords++;
    }
    if (good != size) {
      LOG.warn("cache journal {}: ignoring {} bytes after {} good records (torn by a crash)", dir.resolve("journal"),
          size - good, good / RECORD);
      journal.truncate(good);
    }
    journalEnd = good;
  }

  /** Writes {@code file} whole or not at all: a forced temporary file renamed over it. */
  static void writeAtomically(Path file, byte[] bytes) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    try {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Checkpoints and releases the directory. Idempotent. */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    IOException first = null;
    try {
      checkpoint();
    } catch (IOException e) {
      first = e;
    }
    closed = true;
    Closer.closeAll(first, punchers[0], punchers[1], caches[0], caches[1], journal, lock::release, lockChannel);
  }

  private void closeChannels() throws IOException {
    Closer.closeAll(java.util.Arrays.asList(caches[0], caches[1], journal));
  }
}
