package io.earlystart.bench;

import java.io.IOException;
import java.nio.file.Path;
import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;

/**
 * Drops the page cache of one file: {@code posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)} through
 * jnr-ffi on a descriptor of its own (the advice acts on the file's pages, whichever descriptor
 * reads them). Used on files opened through a FUSE mount, so that the next read goes to the FUSE
 * daemon instead of being answered by the kernel: verified in {@link FuseReadBenchmark}'s
 * per-iteration check, which compares the bytes the daemon replied with the bytes read.
 *
 * <p>Only clean, unmapped, unlocked pages are dropped; a page another thread is reading at that
 * moment may stay. One owner opens and closes; {@link #drop()} is thread-safe.
 */
final class FuseReadPageCache implements AutoCloseable {
  private static final int O_RDONLY = 0;
  private static final int O_CLOEXEC = 0x80000;
  private static final int POSIX_FADV_DONTNEED = 4;

  /** The libc calls we need. */
  public interface LibC {
    int open(String path, int flags);

    int posix_fadvise(int fd, long offset, long len, int advice);

    int close(int fd);
  }

  private static final class Holder {
    static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
  }

  private final Path file;
  private final int fd;

  private FuseReadPageCache(Path file, int fd) {
    this.file = file;
    this.fd = fd;
  }

  /** A descriptor of {@code file} (read-only, close-on-exec) to drop its cached pages with. */
  static FuseReadPageCache open(Path file) throws IOException {
    int fd = Holder.LIBC.open(file.toString(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      throw new IOException("open " + file + ": errno " + LastError.getLastError(jnr.ffi.Runtime.getSystemRuntime()));
    }
    return new FuseReadPageCache(file, fd);
  }

  /** Drops every cached page of the file that can be dropped. */
  void drop() throws IOException {
    int err = Holder.LIBC.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (err != 0) { // posix_fadvise returns the error number itself
      throw new IOException("posix_fadvise(DONTNEED) of " + file + ": errno " + err);
    }
  }

  @Override
  public void close() throws IOException {
    if (Holder.LIBC.close(fd) != 0) {
      throw new IOException("close " + file + ": errno " + LastError.getLastError(jnr.ffi.Runtime.getSystemRuntime()));
    }
  }
}
