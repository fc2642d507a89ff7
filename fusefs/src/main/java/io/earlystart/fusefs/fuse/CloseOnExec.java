package io.earlystart.fusefs.fuse;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import jnr.ffi.LibraryLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Marks every open file descriptor of this process close-on-exec, before libfuse forks
 * {@code fusermount}.
 *
 * <p>Why: libfuse 2 forks and execs {@code fusermount} itself (not through the JDK, whose process
 * launcher closes inherited descriptors), and with {@code auto_unmount} that helper lives until the
 * unmount. The JDK opens sockets and files without {@code FD_CLOEXEC}, so the helper would keep every
 * socket and file the JVM had open at mount time: a closed connection to the overlay source would never
 * reach the server as closed, and a server socket closed in the same JVM would keep listening (seen in
 * {@code EarlyStartIT}: "Address already in use" on restart, with connections queued on a socket
 * nobody accepts). Descriptors opened after the mount are not inherited by the already running helper.
 *
 * <p>Stateless; thread-safe.
 */
final class CloseOnExec {
  private static final Logger LOG = LoggerFactory.getLogger(CloseOnExec.class);
  private static final int F_GETFD = 1;
  private static final int F_SETFD = 2;
  private static final int FD_CLOEXEC = 1;

  /** The one libc call we need. */
  public interface LibC {
    int fcntl(int fd, int cmd, int arg);
  }

  private static final class Holder {
    static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
  }

  private CloseOnExec() {}

  /** Loads the libc binding now (jnr-ffi generates it on first use). */
  static void preload() {
    Holder.LIBC.getClass();
  }

  /** Sets {@code FD_CLOEXEC} on every descriptor above 2 listed in {@code /proc/self/fd}. */
  static void markAll() {
    int marked = 0;
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
      for (Path p : fds) {
        int fd;
        try {
          fd = Integer.parseInt(p.getFileName().toString());
        } catch (NumberFormatException e) {
          continue;
        }
        if (fd <= 2) {
          continue;
        }
        int flags = Holder.LIBC.fcntl(fd, F_GETFD, 0);
        if (flags >= 0 && (flags & FD_CLOEXEC) == 0 && Holder.LIBC.fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0) {
          marked++;
        }
      }
    } catch (IOException | RuntimeException | LinkageError e) {
      LOG.warn("cannot mark descriptors close-on-exec ({}); fusermount may hold sockets and files open", e.toString());
      return;
    }
    LOG.debug("marked {} descriptors close-on-exec", marked);
  }
}
