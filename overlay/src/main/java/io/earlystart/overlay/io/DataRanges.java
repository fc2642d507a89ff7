package io.earlystart.overlay.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.SaveError;

/**
 * Where a file holds data, asked of the file system with {@code lseek(SEEK_DATA / SEEK_HOLE)} instead
 * of by reading it: everything else is a hole and reads as zeros. A sparse 8 GiB disk image with 1 GiB
 * written is then scanned at the cost of its 1 GiB. A file system that cannot tell ({@code EINVAL}) is
 * taken to be data throughout, which is always correct, only slower. The ranges are those at the
 * moment of {@link #of}: the caller's file must not change while they are used.
 *
 * <p>{@link #punchHole} makes a hole. Immutable and thread-safe. The only native calls below fusefs's
 * FUSE adapter (jnr-ffi, libc).
 */
public final class DataRanges {
  /** The libc calls used, nothing more. */
  public interface LibC {
    @SaveError
    int open(String path, int flags);

    @SaveError
    long lseek(int fd, long offset, int whence);

    int close(int fd);

    @SaveError
    int fallocate(int fd, int mode, long offset, long len);
  }

  private static final int O_RDONLY = 0;
  private static final int O_WRONLY = 1;
  private static final int FALLOC_FL_KEEP_SIZE = 1;
  private static final int FALLOC_FL_PUNCH_HOLE = 2;
  private static final int EOPNOTSUPP = 95;
  private static final int O_CLOEXEC = 0x80000;
  private static final int SEEK_DATA = 3;
  private static final int SEEK_HOLE = 4;
  private static final int ENXIO = 6;
  private static final int EINVAL = 22;

  private static volatile LibC libc;

  /** Data range {@code i} is {@code [starts[i], ends[i])}; sorted, disjoint, none empty. */
  private final long[] starts;
  private final long[] ends;

  private DataRanges(long[] starts, long[] ends) {
    this.starts = starts;
    this.ends = ends;
  }

  /** A file of {@code size} bytes that is data throughout (nothing known about its holes). */
  public static DataRanges allData(long size) {
    return size == 0 ? new DataRanges(new long[0], new long[0]) : new DataRanges(new long[] {0}, new long[] {size});
  }

  /** The data ranges of the first {@code size} bytes of {@code path}, asked of the file system. */
  public static DataRanges of(Path path, long size) throws IOException {
    LibC c = libc();
    int fd = c.open(path.toString(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      throw new IOException(path + ": cannot open to find its holes (errno " + errno(c) + ")");
    }
    try {
      long[] starts = new long[16];
      long[] ends = new long[16];
      int n = 0;
      for (long pos = 0; pos < size; ) {
        long data = c.lseek(fd, pos, SEEK_DATA);
        if (data < 0) {
          int e = errno(c);
          if (e == ENXIO) {
            break; // no data at or after pos
          }
          if (e == EINVAL && n == 0 && pos == 0) {
            return allData(size); // the file system cannot tell
          }
          throw new IOException(path + ": lseek(SEEK_DATA, " + pos + ") failed (errno " + e + ")");
        }
        if (data >= size) {
          break;
        }
        long hole = c.lseek(fd, data, SEEK_HOLE);
        if (hole < 0) {
          throw new IOException(path + ": lseek(SEEK_HOLE, " + data + ") failed (errno " + errno(c) + ")");
        }
        if (n == starts.length) {
          starts = Arrays.copyOf(starts, n * 2);
          ends = Arrays.copyOf(ends, n * 2);
        }
        starts[n] = data;
        ends[n] = Math.min(hole, size);
        n++;
        pos = Math.max(hole, data + 1);
      }
      return new DataRanges(Arrays.copyOf(starts, n), Arrays.copyOf(ends, n));
    } finally {
      c.close(fd);
    }
  }

  /**
   * Makes {@code [pos, pos + len)} of {@code path} a hole ({@code fallocate(PUNCH_HOLE|KEEP_SIZE)}): it
   * reads as zeros and frees its blocks; the size stays. Returns false, changing nothing, when the
   * file system cannot punch holes ({@code EOPNOTSUPP}): the caller then writes zeros. For many punches
   * in one file, {@link #puncher} opens it once.
   */
  public static boolean punchHole(Path path, long pos, long len) throws IOException {
    try (Puncher p = puncher(path)) {
      return p.punch(pos, len);
    }
  }

  /** {@code path} opened for {@link Puncher#punch}, until closed. */
  public static Puncher puncher(Path path) throws IOException {
    LibC c = libc();
    int fd = c.open(path.toString(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      throw new IOException(path + ": cannot open to punch a hole (errno " + errno(c) + ")");
    }
    return new Puncher(c, fd, path);
  }

  /** One file held open for hole punching. Thread-safe: no punch reaches a descriptor after close. */
  public static final class Puncher implements java.io.Closeable {
    private final LibC c;
    private final Path path;
    private int fd;

    private Puncher(LibC c, int fd, Path path) {
      this.c = c;
      this.fd = fd;
      this.path = path;
    }

    /** As {@link #punchHole}: false, changing nothing, when the file system cannot punch. */
    public synchronized boolean punch(long pos, long len) throws IOException {
      if (fd < 0) {
        throw new IOException(path + ": closed");
      }
      if (c.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pos, len) == 0) {
        return true;
      }
      int e = errno(c);
      if (e == EOPNOTSUPP) {
        return false;
      }
      throw new IOException(path + ": cannot punch a hole of " + len + " bytes at " + pos + " (errno " + e + ")");
    }

    @Override
    public synchronized void close() {
      if (fd >= 0) {
        c.close(fd);
        fd = -1;
      }
    }
  }

  /** The number of data ranges. */
  public int count() {
    return starts.length;
  }

  /** Bytes in data ranges. */
  public long dataBytes() {
    long sum = 0;
    for (int i = 0; i < starts.length; i++) {
      sum += ends[i] - starts[i];
    }
    return sum;
  }

  public long start(int i) {
    return starts[i];
  }

  public long end(int i) {
    return ends[i];
  }

  /** The first data range that ends after {@code pos}, or {@link #count()} if none does. */
  public int firstEndingAfter(long pos) {
    int lo = 0;
    int hi = ends.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (ends[mid] <= pos) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** Whether any byte of {@code [pos, pos + len)} lies in a data range. */
  public boolean hasData(long pos, long len) {
    int i = firstEndingAfter(pos);
    return i < starts.length && starts[i] < pos + len;
  }

  /**
   * Binds libc now (jnr-ffi generates the binding on first use: 40-150 ms), so that a later call does
   * not pay it where time matters.
   */
  public static void preload() {
    libc();
  }

  private static int errno(LibC c) {
    return Runtime.getRuntime(c).getLastError();
  }

  private static LibC libc() {
    LibC c = libc;
    if (c == null) {
      synchronized (DataRanges.class) {
        c = libc;
        if (c == null) {
          libc = c = LibraryLoader.create(LibC.class).load("c");
        }
      }
    }
    return c;
  }
}
