package io.earlystart.fusefs.fuse;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.Struct;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.PointerByReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ru.serce.jnrfuse.AbstractFuseFS;
import ru.serce.jnrfuse.struct.FuseOperations;

/**
 * libfuse 2.9's multi-threaded loop with Java threads in place of libfuse's: {@code fuse_setup} mounts,
 * then each worker, a Java thread, receives a request ({@code fuse_session_receive_buf}) and processes
 * it ({@code fuse_session_process_buf}), which calls jnr-fuse's callbacks on that same thread.
 *
 * <p>Why: under {@code fuse_main} every request is handled on a native thread of libfuse's, and jffi
 * attaches such a thread to the JVM for each callback and detaches it afterwards (jnr/jnr-ffi#125):
 * a new {@code java.lang.Thread} per request, about 70 us in a fresh JVM. A VM resumed from the mount
 * faults thousands of 4 KiB pages in through FUSE before its first answer (native-notes/FUSE.md).
 *
 * <p>Workers come and go as libfuse's own loop does: when the last idle worker takes a request another
 * starts (up to {@link #MAX_WORKERS}), and a worker that finds more than {@link #MAX_IDLE} others idle
 * ends. A request that waits (a read of a chunk not yet fetched) holds only its worker.
 *
 * <p>Thread-safe; one loop per mount, run by {@link FuseMount}.
 */
final class FuseLoop {
  private static final Logger LOG = LoggerFactory.getLogger(FuseLoop.class);
  /** Idle workers kept; libfuse 2.9 keeps 10. */
  static final int MAX_IDLE = 10;
  /** More concurrent requests than this wait in the kernel until a worker is free. */
  static final int MAX_WORKERS = 256;
  private static final int EINTR = 4;
  /** {@code struct fuse_buf} (libfuse 2.9, LP64): size_t size; int flags; void *mem; int fd; off_t pos. */
  private static final int BUF_STRUCT = 40;

  /** The part of libfuse 2.9's API the loop needs (all exported by libfuse.so.2). */
  public interface Lib {
    Pointer fuse_setup(int argc, String[] argv, FuseOperations op, long opSize, PointerByReference mountpoint,
        IntByReference multithreaded, Pointer userData);

    void fuse_teardown(Pointer fuse, Pointer mountpoint);

    Pointer fuse_get_session(Pointer fuse);

    Pointer fuse_session_next_chan(Pointer se, Pointer ch);

    long fuse_chan_bufsize(Pointer ch);

    /** @param chp {@code struct fuse_chan **}: in, the channel to read; out, the one read */
    int fuse_session_receive_buf(Pointer se, Pointer buf, Pointer chp);

    void fuse_session_process_buf(Pointer se, Pointer buf, Pointer ch);

    int fuse_session_exited(Pointer se);

    void fuse_session_exit(Pointer se);
  }

  private static volatile Lib lib;

  private final String name;
  private final Pointer fuse;
  private final Pointer mountpoint;
  private final Pointer session;
  private final Pointer channel;
  private final long bufSize;
  private final Object lock = new Object();
  private final CountDownLatch ended = new CountDownLatch(1);
  // guarded by lock
  private int workers;
  private int idle;
  private int started;
  private int error;
  private boolean tornDown;

  private FuseLoop(String name, Pointer fuse, Pointer mountpoint) {
    this.name = name;
    this.fuse = fuse;
    this.mountpoint = mountpoint;
    Lib l = lib();
    this.session = l.fuse_get_session(fuse);
    this.channel = l.fuse_session_next_chan(session, null);
    this.bufSize = l.fuse_chan_bufsize(channel);
  }

  /** Loads the binding (jnr-ffi generates it on first use); {@link FuseMount#preloadAsync} calls it early. */
  static Lib lib() {
    Lib l = lib;
    if (l == null) {
      synchronized (FuseLoop.class) {
        l = lib;
        if (l == null) {
          l = LibraryLoader.create(Lib.class).failImmediately().load("fuse");
          lib = l;
        }
      }
    }
    return l;
  }

  /**
   * Mounts {@code fs} with {@code args} (as {@code fuse_main} would take them, without the program name
   * and the mount point) and starts the first worker.
   *
   * @throws IllegalStateException when libfuse refuses (bad option, no /dev/fuse): it said why on stderr
   */
  static FuseLoop start(AbstractFuseFS fs, String mountPoint, List<String> args) {
    List<String> argv = new ArrayList<>();
    argv.add("earlystart");
    argv.add("-f"); // stay in the foreground: this process serves
    argv.addAll(args);
    argv.add(mountPoint);
    FuseOperations ops = operations(fs);
    PointerByReference mp = new PointerByReference();
    IntByReference multithreaded = new IntByReference();
    Pointer fuse = lib().fuse_setup(argv.size(), argv.toArray(new String[0]), ops, Struct.size(ops), mp,
        multithreaded, null);
    if (fuse == null) {
      throw new IllegalStateException("libfuse could not mount " + mountPoint + " (fuse_setup failed; its "
          + "reason is on stderr)");
    }
    FuseLoop loop = new FuseLoop(mountPoint, fuse, mp.getValue());
    synchronized (loop.lock) {
      loop.startWorker();
    }
    return loop;
  }

  /** jnr-fuse keeps the callbacks in a protected field of {@link AbstractFuseFS}; nothing else exposes them. */
  private static FuseOperations operations(AbstractFuseFS fs) {
    try {
      Field f = AbstractFuseFS.class.getDeclaredField("fuseOperations");
      f.setAccessible(true);
      return (FuseOperations) f.get(fs);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("this jnr-fuse has no AbstractFuseFS.fuseOperations: " + e, e);
    }
  }

  /**
   * Waits until every worker has ended (after an unmount, or an error) and tears the session down
   * ({@code fuse_teardown}: the file system's destroy, then the mount's resources).
   *
   * @return 0, or the negative errno that ended the loop
   */
  int await() throws InterruptedException {
    ended.await();
    synchronized (lock) {
      if (!tornDown) {
        tornDown = true;
        lib().fuse_teardown(fuse, mountpoint);
      }
      return error;
    }
  }

  /**
   * Tells the workers to stop after their current request (the unmount wakes those waiting for one).
   * Nothing once the session is torn down: it is freed then (an unmount from outside ends the loop first).
   */
  void exit() {
    synchronized (lock) {
      if (!tornDown) {
        lib().fuse_session_exit(session);
      }
    }
  }

  // guarded by lock
  private void startWorker() {
    workers++;
    idle++;
    Thread t = new Thread(this::work, "fuse-worker-" + (++started) + " " + name);
    t.setDaemon(true);
    t.start();
  }

  private void work() {
    Lib l = lib();
    Runtime rt = Runtime.getRuntime(l);
    Pointer buf = Memory.allocateDirect(rt, BUF_STRUCT, true);
    Pointer mem = Memory.allocateDirect(rt, (int) bufSize, false);
    Pointer ch = Memory.allocateDirect(rt, 8, true);
    boolean counted = true; // this worker is counted as idle
    try {
      while (l.fuse_session_exited(session) == 0) {
        buf.putLong(0, bufSize); // size
        buf.putInt(8, 0); // flags
        buf.putPointer(16, mem);
        buf.putInt(24, -1); // fd
        buf.putLong(32, 0); // pos
        ch.putPointer(0, channel);
        int res = l.fuse_session_receive_buf(session, buf, ch);
        if (res == -EINTR) {
          continue;
        }
        if (res <= 0) {
          if (res < 0) {
            synchronized (lock) {
              error = res;
            }
            l.fuse_session_exit(session);
          }
          break;
        }
        synchronized (lock) {
          idle--;
          counted = false;
          if (idle == 0 && workers < MAX_WORKERS) {
            startWorker();
          }
        }
        l.fuse_session_process_buf(session, buf, ch.getPointer(0));
        synchronized (lock) {
          idle++;
          counted = true;
          if (idle > MAX_IDLE) {
            break; // too many idle: this one ends (its counts are taken off below)
          }
        }
      }
    } catch (RuntimeException | Error e) {
      LOG.warn("FUSE worker for {} failed: {}", name, e.toString());
      l.fuse_session_exit(session);
    } finally {
      synchronized (lock) {
        workers--;
        if (counted) {
          idle--;
        }
        if (workers == 0) { // only after the session ended: a worker leaves for idleness only if 10 others idle
          ended.countDown();
        }
      }
    }
  }
}
