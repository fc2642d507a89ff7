package io.earlystart.ordering;

import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.io.Closer;
import io.earlystart.overlay.io.Hex;
import java.io.Closeable;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends an access trace (format: the module's README.md): first touches of 4 KiB chunks and named
 * marks, with times in nanoseconds since the mount started streaming.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. {@link #touch} is meant for
 * the FUSE read path: it allocates nothing and makes no system call; it encodes the record, takes a
 * lock and copies 16 bytes into a 64 KiB buffer. The one caller that finds the buffer full writes it
 * to the file while holding the lock (one {@code write} of 64 KiB into the page cache), so the file
 * grows strictly in order and a crash can only leave a torn tail, never a hole.
 *
 * <p><b>Durability.</b> Records reach the file when the buffer fills, at every {@link #mark}, at
 * {@link #flush} and at {@link #close}; only close forces them to the device. A process killed with
 * {@code kill -9} leaves a readable trace that holds everything written before, possibly followed by
 * part of one record, which {@link Trace#read} ignores. Records still in the buffer are lost.
 *
 * <p><b>Failures.</b> {@code touch} and {@code mark} never throw {@link IOException}: a failed write
 * logs one WARN, stops tracing (the file keeps what was written, at worst with a torn tail) and is
 * rethrown by the next {@link #flush} or {@link #close}. Calls after close are ignored, so FUSE
 * threads racing an unmount need no extra guard. The writer owns its file descriptor; close it.
 *
 * <p>The file is written with {@link FileOutputStream}, not a {@code FileChannel}: an interrupt of
 * the FUSE thread that happens to fill the buffer would close a channel for every thread.
 */
public final class TraceWriter implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(TraceWriter.class);

  static final int BUFFER_BYTES = 64 * 1024;

  private final Path file;
  private final Instant start;
  private final long originNanoTime;
  private final ReentrantLock lock = new ReentrantLock();
  private final FileOutputStream out; // guarded by lock
  private final byte[] bytes = new byte[BUFFER_BYTES];
  private final ByteBuffer buffer = ByteBuffer.wrap(bytes); // big-endian view of bytes, guarded by lock
  private int used; // guarded by lock
  private long written; // bytes in the file, guarded by lock
  private IOException failure; // guarded by lock
  private boolean closed; // guarded by lock

  private TraceWriter(Path file, FileOutputStream out, Instant start, long originNanoTime) {
    this.file = file;
    this.out = out;
    this.start = start;
    this.originNanoTime = originNanoTime;
    this.written = TraceFormat.HEADER_BYTES;
  }

  /**
   * Creates (or replaces) the trace {@code file} with its header; the start time is now. The header
   * is written to {@code file.tmp} and renamed into place, so {@code file} never exists without a
   * whole header.
   *
   * @param overlayId the overlay id, 64 hex digits (the SHA-256 of its stored manifest)
   */
  public static TraceWriter create(Path file, String overlayId) throws IOException {
    byte[] id = parseOverlayId(overlayId);
    Instant start = Instant.now();
    long origin = System.nanoTime();
    byte[] header = TraceFormat.header(id, epochNanos(start));
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    FileOutputStream out = new FileOutputStream(tmp.toFile());
    try {
      out.write(header);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      try {
        out.close();
        Files.deleteIfExists(tmp);
      } catch (IOException | RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    return new TraceWriter(file, out, start, origin);
  }

  /** The wall-clock time stored in the header. */
  public Instant start() {
    return start;
  }

  /** Nanoseconds since {@link #create} on the monotonic clock, for callers without a clock of their own. */
  public long nanosSinceStart() {
    return System.nanoTime() - originNanoTime;
  }

  /**
   * Appends a first touch of {@code chunk} (a 4 KiB chunk index) of {@code image}. No allocation, no
   * system call unless this call fills the buffer.
   *
   * @throws IllegalArgumentException if {@code nanosSinceStart} or {@code chunk} is negative
   */
  public void touch(long nanosSinceStart, Image image, int chunk) {
    if (nanosSinceStart < 0 || chunk < 0) {
      throw new IllegalArgumentException("negative time " + nanosSinceStart + " or chunk " + chunk);
    }
    long word = TraceFormat.touchWord(image.ordinal(), chunk);
    word |= (long) TraceFormat.check(word, nanosSinceStart) << 32;
    lock.lock();
    try {
      if (reserveLocked(TraceFormat.RECORD_BYTES)) {
        buffer.putLong(used, word);
        buffer.putLong(used + 8, nanosSinceStart);
        used += TraceFormat.RECORD_BYTES;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Appends a named mark (such as {@code "first-response"}) and writes the buffer to the file, so
   * that everything before a mark survives a later crash.
   *
   * @param label 1 to 255 bytes of UTF-8
   * @throws IllegalArgumentException if {@code nanosSinceStart} is negative or the label is empty or
   *     too long
   */
  public void mark(long nanosSinceStart, String label) {
    byte[] utf8 = label.getBytes(StandardCharsets.UTF_8);
    if (nanosSinceStart < 0 || utf8.length == 0 || utf8.length > TraceFormat.MAX_LABEL_BYTES) {
      throw new IllegalArgumentException("mark needs a time >= 0 and a label of 1 to "
          + TraceFormat.MAX_LABEL_BYTES + " UTF-8 bytes: " + nanosSinceStart + ", \"" + label + "\"");
    }
    long word = TraceFormat.markWord(utf8.length);
    word |= (long) TraceFormat.check(word, nanosSinceStart, utf8) << 32;
    lock.lock();
    try {
      if (reserveLocked(TraceFormat.RECORD_BYTES + utf8.length)) {
        buffer.putLong(used, word);
        buffer.putLong(used + 8, nanosSinceStart);
        buffer.put(used + TraceFormat.RECORD_BYTES, utf8);
        used += TraceFormat.RECORD_BYTES + utf8.length;
        drainLocked();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Writes buffered records to the file (no fsync). No-op after close. */
  public void flush() throws IOException {
    lock.lock();
    try {
      if (!closed) {
        drainLocked();
      }
      throwIfFailedLocked();
    } finally {
      lock.unlock();
    }
  }

  /** Writes buffered records, forces the file to the device and closes it. Idempotent. */
  @Override
  public void close() throws IOException {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      drainLocked();
      IOException first = failure == null ? null : failed();
      try {
        if (first == null) {
          out.getFD().sync();
        }
      } catch (IOException e) {
        first = e;
      }
      Closer.closeAll(first, out);
    } finally {
      lock.unlock();
    }
  }

  /** True if {@code length} more bytes fit in the buffer, writing it out first if needed. */
  private boolean reserveLocked(int length) {
    if (closed || failure != null) {
      return false;
    }
    if (used + length > bytes.length) {
      drainLocked();
    }
    return failure == null;
  }

  private void drainLocked() {
    if (used == 0 || failure != null) {
      return;
    }
    try {
      out.write(bytes, 0, used);
      written += used;
      used = 0;
    } catch (IOException e) {
      failure = e;
      LOG.warn("trace {}: write at offset {} failed, tracing stops: {}", file, written, e.toString());
    }
  }

  private void throwIfFailedLocked() throws IOException {
    if (failure != null) {
      throw failed();
    }
  }

  private IOException failed() {
    return new IOException("trace " + file + ": write at offset " + written
        + " failed, later records were dropped: " + failure.getMessage(), failure);
  }

  private static byte[] parseOverlayId(String overlayId) {
    if (overlayId.length() != 2 * TraceFormat.OVERLAY_ID_BYTES) {
      throw new IllegalArgumentException("overlay id must be 64 hex digits: " + overlayId);
    }
    try {
      return Hex.parse(overlayId);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("overlay id must be 64 hex digits: " + overlayId, e);
    }
  }

  static long epochNanos(Instant t) {
    return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
  }
}
