package io.earlystart.fusefs.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ru.serce.jnrfuse.AbstractFuseFS;

/**
 * One live FUSE mount: mounts and runs the request loop ({@link FuseLoop}: libfuse's, with Java worker
 * threads) from a dedicated daemon thread, checks readiness itself, and unmounts in {@link #close()}.
 *
 * <p>Why not jnr-fuse's non-blocking mount: {@code AbstractFuseFS.mount(path, false, ...)} always
 * waits 2 s for {@code fuse_main_real} to return (it returns only at unmount or on failure) and treats
 * that timeout as success. So it costs a fixed 2 s per mount and still proves nothing. Our own thread
 * costs ~20 ms, and a loop that ends early (bad option, no /dev/fuse) is seen at once. A mount is
 * ready when {@link MountTable#isServing} says so. Options: {@link MountOptions}.
 *
 * <p>One owner mounts; {@link #close()} is idempotent and may also be called from a shutdown hook
 * (it is synchronized).
 */
public final class FuseMount implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FuseMount.class);
  private static final long POLL_MILLIS = 10;
  /**
   * {@code -Dearlystart.fuse.loop=libfuse}: jnr-fuse's {@code fuse_main} and libfuse's native worker
   * threads instead of {@link FuseLoop} (for comparison; every request then attaches a thread to the JVM).
   */
  static final boolean LIBFUSE_LOOP = "libfuse".equals(System.getProperty("earlystart.fuse.loop"));

  private final AbstractFuseFS fs;
  private final Path mountPoint;
  /** Completes when the loop has ended (and been torn down): normally after unmount, early on failure. */
  private final CompletableFuture<Void> loopExit = new CompletableFuture<>();
  /** Our loop once libfuse has mounted ({@link FuseLoop}); null with {@link #LIBFUSE_LOOP}. */
  private volatile FuseLoop loop;
  private final Duration unmountDeadline;
  private boolean closed;

  private FuseMount(AbstractFuseFS fs, Path mountPoint, Duration unmountDeadline) {
    this.fs = fs;
    this.mountPoint = mountPoint;
    this.unmountDeadline = unmountDeadline;
  }

  /**
   * Starts loading what the first mount needs (jnr-fuse's libfuse binding and the libc one, which
   * jnr-ffi generates on first use: about a quarter of a second) on a daemon thread, so that it
   * overlaps with other start-up work (connecting to the source); then {@code more}, the caller's own
   * bindings that FUSE callbacks use. A failure is left for the mount (or the callback) to report.
   */
  public static void preloadAsync(Runnable more) {
    Thread t = new Thread(() -> {
      try {
        CloseOnExec.preload();
        new ru.serce.jnrfuse.FuseStubFS();
        if (!LIBFUSE_LOOP) {
          FuseLoop.lib();
        }
        more.run();
      } catch (RuntimeException | LinkageError e) {
        LOG.debug("preloading the FUSE binding failed: {}", e.toString());
      }
    }, "fuse-preload");
    t.setDaemon(true);
    t.start();
  }

  /**
   * Cleans a stale mount at {@code mountPoint}, mounts {@code fs} there and waits until the mount
   * answers, at most {@code readyDeadline}.
   *
   * @param options libfuse {@code -o} options, each without the {@code -o} ({@link MountOptions})
   * @throws IOException if the mount point is not a directory, a stale mount cannot be removed, or
   *     the mount is not ready by the deadline (it is then unmounted again)
   */
  public static FuseMount mount(AbstractFuseFS fs, Path mountPoint, List<String> options, Duration readyDeadline)
      throws IOException {
    Path mp = mountPoint.toAbsolutePath().normalize();
    if (!Files.isDirectory(mp)) {
      throw new IOException("mount point is not a directory: " + mp);
    }
    MountTable.cleanStale(mp);
    String[] args = options.isEmpty() ? new String[0] : new String[] {"-o", String.join(",", options)};
    CloseOnExec.markAll(); // libfuse's fusermount helper must not inherit our sockets and files
    FuseMount m = new FuseMount(fs, mp, readyDeadline);
    Thread loop = new Thread(() -> m.runLoop(args), "fuse-loop " + mp.getFileName());
    loop.setDaemon(true);
    loop.start();
    try {
      m.awaitReady(readyDeadline);
    } catch (IOException | RuntimeException | Error e) {
      m.closeQuietly(e);
      throw e;
    }
    LOG.info("mounted {} with -o {}", mp, String.join(",", options));
    return m;
  }

  /**
   * Completes when the FUSE loop has returned: after {@link #close()}, or when someone else
   * unmounted ({@code fusermount -u}); exceptionally if the loop failed.
   */
  public CompletableFuture<Void> loopExit() {
    return loopExit.copy();
  }

  /** The absolute, normalised mount point. */
  public Path mountPoint() {
    return mountPoint;
  }

  /**
   * Unmounts (the loop told to exit, then {@code fusermount -u -z}; with {@link #LIBFUSE_LOOP}
   * jnr-fuse's umount) and waits until the kernel no longer lists the mount point and the loop has
   * ended; falls back to {@code fusermount -u -z} once more at the deadline.
   *
   * @throws IOException if the mount point is still listed after the deadline
   */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    boolean wasMounted = MountTable.isMounted(mountPoint);
    FuseLoop l = loop;
    if (l != null) {
      l.exit();
      if (wasMounted) {
        MountTable.unmountLazy(mountPoint); // wakes the workers waiting for a request
      }
    } else {
      try {
        fs.umount();
      } catch (RuntimeException e) {
        LOG.warn("jnr-fuse umount of {} failed, trying fusermount: {}", mountPoint, e.toString());
      }
    }
    long deadline = System.nanoTime() + unmountDeadline.toNanos();
    while (MountTable.isMounted(mountPoint)) {
      if (System.nanoTime() - deadline > 0) {
        MountTable.unmountLazy(mountPoint);
        if (MountTable.isMounted(mountPoint)) {
          throw new IOException("still mounted after unmount: " + mountPoint);
        }
        break;
      }
      sleep();
    }
    try {
      loopExit.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      LOG.warn("FUSE loop for {} still running after unmount", mountPoint);
    } catch (ExecutionException e) {
      LOG.debug("FUSE loop for {} ended with {}", mountPoint, e.getCause().toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (wasMounted) {
      LOG.info("unmounted {}", mountPoint);
    }
  }

  /** Runs the FUSE loop on this (dedicated) thread until unmount. */
  private void runLoop(String[] args) {
    try {
      if (LIBFUSE_LOOP) {
        fs.mount(mountPoint, true, false, args);
      } else {
        FuseLoop l = FuseLoop.start(fs, mountPoint.toString(), List.of(args));
        loop = l;
        int res = l.await();
        if (res < 0) {
          throw new IOException("the FUSE loop of " + mountPoint + " ended with errno " + -res);
        }
      }
      loopExit.complete(null);
    } catch (Throwable t) {
      loopExit.completeExceptionally(t);
    }
  }

  private void awaitReady(Duration readyDeadline) throws IOException {
    long deadline = System.nanoTime() + readyDeadline.toNanos();
    while (true) {
      if (loopExit.isDone()) {
        throw new IOException("FUSE loop ended before the mount was ready: " + mountPoint,
            loopExit.handle((v, t) -> t).join());
      }
      if (MountTable.isServing(mountPoint)) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IOException("mount not ready after " + readyDeadline.toMillis() + " ms: " + mountPoint);
      }
      sleep();
    }
  }

  private void closeQuietly(Throwable cause) {
    try {
      close();
    } catch (IOException | RuntimeException e) {
      cause.addSuppressed(e);
    }
  }

  private static void sleep() throws IOException {
    try {
      Thread.sleep(POLL_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }
}
