package io.earlystart.bench;

import io.earlystart.fusefs.fuse.MountOptions;
import io.earlystart.fusefs.fuse.MountTable;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One way of reading a fully arrived customised image for {@link FuseReadBenchmark}, set up and
 * torn down: the file itself ({@code direct}), our mount ({@code earlystart}, {@code earlystart mount
 * --foreground} in a child JVM), or bindfs over the directory that holds the image ({@code bindfs}:
 * {@code --multithreaded}, like our libfuse 2 loop; {@code bindfs-st}: Debian's default, single
 * threaded). Both mounts get the libfuse options {@code earlystart mount} uses
 * ({@link MountOptions#writable}) and run in their own process, so
 * the measuring JVM never serves a FUSE request.
 *
 * <p>Mount points are fixed ({@code ROOT/fuseread-earlystart}, {@code ROOT/fuseread-bindfs}, ROOT as
 * in {@link ExampleWorkload}); a mount left there by a killed run is removed first. {@link #close()}
 * unmounts, waits for the daemon to exit (killing it if it does not) and fails if {@code /proc/mounts}
 * still lists the mount point; a shutdown hook does the same if the JVM ends without it. One owner;
 * {@link #close()} is idempotent and thread-safe.
 */
final class FuseReadRig implements AutoCloseable {
  static final String DIRECT = "direct";
  static final String EARLYSTART = "earlystart";
  static final String BINDFS = "bindfs";
  static final String BINDFS_ST = "bindfs-st";
  private static final List<String> PATHS = List.of(DIRECT, EARLYSTART, BINDFS, BINDFS_ST);
  private static final Duration READY = Duration.ofSeconds(120);
  private static final String MARKER = ".complete";

  final String path;
  /** What the benchmark reads. */
  final Path file;
  private final Path mountPoint;
  /** Files opened through {@link #file}: closed before the unmount, which they would block. */
  private final List<AutoCloseable> opened = new ArrayList<>();
  private Process daemon;
  private Path log;
  private Thread hook;
  private boolean closed;

  private FuseReadRig(String path, Path file, Path mountPoint) {
    this.path = path;
    this.file = file;
    this.mountPoint = mountPoint;
  }

  /**
   * Mounts (for a FUSE {@code path}) and returns once {@link #file} can be read and equals the
   * customised image; the files behind it are in the page cache.
   */
  static FuseReadRig start(String path, int sizeMiB, String image) throws IOException, InterruptedException {
    if (!PATHS.contains(path)) {
      throw new IllegalArgumentException("unknown path " + path + "; use one of " + PATHS);
    }
    if (!image.equals("disk.img") && !image.equals("memory.img")) {
      throw new IllegalArgumentException("unknown image " + image + "; use disk.img or memory.img");
    }
    if (!path.equals(DIRECT)) {
      requireFuse(path.startsWith(BINDFS));
    }
    ExampleWorkload work = ExampleWorkload.prepare(sizeMiB);
    Path original = image.equals("disk.img") ? work.files.disk() : work.files.memory();
    List<Path> backing = new ArrayList<>(List.of(original));
    if (path.equals(DIRECT)) {
      warm(backing);
      return new FuseReadRig(path, original, null);
    }
    Path root = ExampleWorkload.root();
    Path mnt = Files.createDirectories(root.resolve(path.equals(EARLYSTART) ? "fuseread-earlystart" : "fuseread-bindfs"));
    MountTable.cleanStale(mnt);
    FuseReadRig rig = new FuseReadRig(path, mnt.resolve(image), mnt);
    try {
      if (path.equals(EARLYSTART)) {
        Path overlay = prepareOverlay(work);
        Path cache = work.freshDir("fuseread-cache");
        rig.startEarlystart(work, overlay, cache);
        backing.addAll(List.of(work.files.baseDisk(), work.files.baseMemory(), cache.resolve("disk.cache"),
            cache.resolve("memory.cache")));
      } else {
        rig.startBindfs(work.dir, path.equals(BINDFS));
      }
      warm(backing);
      long t0 = System.nanoTime();
      if (Files.mismatch(rig.file, original) != -1) {
        throw new IllegalStateException(rig.file + " differs from " + original);
      }
      ExampleWorkload.log(String.format("%s: %s equals %s (read through the mount in %.2f s)", path, rig.file,
          original, (System.nanoTime() - t0) / 1e9));
      return rig;
    } catch (Throwable t) {
      rig.closeAfter(t);
      throw t;
    }
  }

  /** Closes the rig after {@code failure} (a failed start or setup); a failure to close is added to it. */
  void closeAfter(Throwable failure) {
    try {
      close();
    } catch (Throwable u) {
      failure.addSuppressed(u);
    }
  }

  /** Opens {@link #file} for reading; {@link #close()} closes it (before it unmounts). */
  synchronized FileChannel openChannel() throws IOException {
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    opened.add(ch);
    return ch;
  }

  /** A {@link FuseReadPageCache} of {@link #file}; {@link #close()} closes it (before it unmounts). */
  synchronized FuseReadPageCache openPageCache() throws IOException {
    FuseReadPageCache c = FuseReadPageCache.open(file);
    opened.add(c);
    return c;
  }

  /**
   * Total bytes the daemon has written ({@code wchar} of {@code /proc/PID/io}): its replies to the
   * kernel through {@code /dev/fuse}, header and data, plus (earlystart) its log and cache writes;
   * -1 for {@code direct} or if unreadable.
   */
  long daemonWrittenBytes() {
    if (daemon == null) {
      return -1;
    }
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(daemon.pid()), "io"))) {
        if (line.startsWith("wchar:")) {
          return Long.parseLong(line.substring(6).strip());
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone or not allowed: no check
    }
    return -1;
  }

  private void startEarlystart(ExampleWorkload work, Path overlay, Path cache) throws IOException,
      InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    String extra = System.getProperty("earlystart.bench.mountJvmArgs", "").strip();
    if (!extra.isEmpty()) {
      cmd.addAll(List.of(extra.split("\\s+")));
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.earlystart.cli.Main", "mount",
        "--foreground", "--base-disk", work.files.baseDisk().toString(), "--base-memory",
        work.files.baseMemory().toString(), "--source", overlay.toString(), "--cache-dir", cache.toString(),
        mountPoint.toString()));
    launch(cmd, work.dir.resolve("fuseread-earlystart.log"));
    long deadline = System.nanoTime() + READY.toNanos();
    Path status = mountPoint.resolve("status");
    while (true) {
      requireAlive();
      String s = read(status);
      if (s != null && s.contains("\"state\": \"complete\"")) {
        ExampleWorkload.log(EARLYSTART + ": mounted at " + mountPoint + ", every segment arrived (pid " + daemon.pid()
            + ", log " + log + ")");
        return;
      }
      if (s != null && s.contains("\"state\": \"failed\"")) {
        throw new IllegalStateException("the earlystart mount failed to fetch its overlay: " + s);
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("the earlystart mount at " + mountPoint + " is not complete after "
            + READY.toSeconds() + " s; status: " + s + "; log: " + tail());
      }
      Thread.sleep(20);
    }
  }

  private void startBindfs(Path source, boolean multithreaded) throws IOException, InterruptedException {
    List<String> opts = MountOptions.writable(List.of());
    List<String> cmd = new ArrayList<>(List.of("bindfs", "-f"));
    if (multithreaded) {
      cmd.add("--multithreaded");
    }
    cmd.addAll(List.of("-o", String.join(",", opts), source.toString(), mountPoint.toString()));
    launch(cmd, source.resolve("fuseread-bindfs.log"));
    long deadline = System.nanoTime() + READY.toNanos();
    while (true) {
      requireAlive();
      if (MountTable.isServing(mountPoint) && Files.isRegularFile(file)) {
        ExampleWorkload.log(path + ": mounted " + source + " at " + mountPoint + " (pid " + daemon.pid() + ")");
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("bindfs at " + mountPoint + " not ready after " + READY.toSeconds()
            + " s; log: " + tail());
      }
      Thread.sleep(10);
    }
  }

  private synchronized void launch(List<String> cmd, Path logFile) throws IOException {
    log = logFile;
    ExampleWorkload.log(path + ": " + String.join(" ", cmd));
    daemon = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    hook = new Thread(() -> {
      try {
        close();
      } catch (Throwable t) {
        System.err.println("[earlystart-bench] unmounting " + mountPoint + " at exit: " + t);
      }
    }, "fuseread-unmount");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  private void requireAlive() throws IOException {
    if (!daemon.isAlive()) {
      throw new IllegalStateException(path + " exited with status " + daemon.exitValue()
          + " before its mount was ready; log " + log + ": " + tail());
    }
  }

  /**
   * Closes the files opened through the rig, unmounts ({@code fusermount -u}, lazily if that fails),
   * waits for the daemon to exit (10 s, then SIGTERM, then SIGKILL: at most 20 s, within the 30 s JMH
   * gives a fork's shutdown) and checks that the mount point is gone.
   */
  @Override
  public synchronized void close() throws IOException, InterruptedException {
    if (closed) {
      return;
    }
    closed = true;
    List<Throwable> failures = new ArrayList<>();
    for (AutoCloseable c : opened) {
      try {
        c.close();
      } catch (Exception e) {
        failures.add(e);
      }
    }
    opened.clear();
    if (mountPoint == null) {
      if (!failures.isEmpty()) {
        throw new IOException("closing " + file + ": " + failures);
      }
      return;
    }
    if (MountTable.isMounted(mountPoint)) {
      try {
        ExternalTool.run(ExternalTool.Step.of(null, "fusermount", "-u", mountPoint.toString()));
      } catch (IOException e) {
        failures.add(e);
        lazyUnmount(failures);
      }
    }
    if (daemon != null && !daemon.waitFor(10, TimeUnit.SECONDS)) {
      failures.add(new IllegalStateException(path + " (pid " + daemon.pid() + ") still running 10 s after "
          + "unmount; stopping it"));
      daemon.destroy();
      if (!daemon.waitFor(5, TimeUnit.SECONDS)) {
        daemon.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
    if (MountTable.isMounted(mountPoint)) {
      lazyUnmount(failures);
    }
    if (hook != null && Thread.currentThread() != hook) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // shutting down: the hook finds the rig closed
      }
    }
    if (MountTable.isMounted(mountPoint)) {
      IllegalStateException e = new IllegalStateException("still mounted after unmount: " + mountPoint);
      failures.forEach(e::addSuppressed);
      throw e;
    }
    ExampleWorkload.log(path + ": unmounted " + mountPoint + (daemon != null && !daemon.isAlive()
        ? ", daemon exited " + daemon.exitValue() : "") + (failures.isEmpty() ? "" : " after trouble: " + failures));
  }

  private void lazyUnmount(List<Throwable> failures) throws InterruptedException {
    try {
      ExternalTool.run(ExternalTool.Step.of(null, "fusermount", "-u", "-z", mountPoint.toString()));
    } catch (IOException e) {
      failures.add(e);
    }
  }

  /** Fails with an installation hint unless /dev/fuse, fusermount and (if asked) bindfs are usable. */
  static void requireFuse(boolean bindfs) {
    Path dev = Path.of("/dev/fuse");
    if (!Files.exists(dev) || !Files.isReadable(dev) || !Files.isWritable(dev)) {
      throw new IllegalStateException("/dev/fuse is missing or not read/writable by this user: the FUSE paths "
          + "need it (modprobe fuse; in a container: --device /dev/fuse --cap-add SYS_ADMIN)");
    }
    ExternalTool.require("fusermount", "fuse");
    if (bindfs) {
      ExternalTool.require("bindfs", "bindfs");
    }
  }

  /** The overlay of the example pair, made once with the CLI into {@code prepared-fuseread/} and reused. */
  private static Path prepareOverlay(ExampleWorkload work) throws IOException, InterruptedException {
    Path dir = work.dir.resolve("prepared-fuseread");
    Path overlay = dir.resolve(EarlystartRuns.OVERLAY);
    if (Files.isRegularFile(dir.resolve(MARKER)) && Files.isRegularFile(overlay)) {
      ExampleWorkload.log("reusing the overlay " + overlay);
      return overlay;
    }
    ExampleWorkload.log("creating the overlay " + overlay);
    dir = work.freshDir("prepared-fuseread");
    EarlystartRuns.createWithCli(work, dir);
    Files.writeString(dir.resolve(MARKER), "\n", StandardCharsets.UTF_8);
    return overlay;
  }

  /** Reads the files once, so that they are in the page cache. */
  private static void warm(List<Path> files) throws IOException {
    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
    for (Path f : files) {
      if (!Files.isRegularFile(f)) {
        continue;
      }
      try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
        long pos = 0;
        int n;
        while ((n = ch.read(buf.clear(), pos)) > 0) {
          pos += n;
        }
      }
    }
  }

  private static String read(Path status) {
    try {
      return Files.readString(status, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return null; // not mounted yet
    }
  }

  private String tail() throws IOException {
    if (log == null || !Files.isRegularFile(log)) {
      return "(no log)";
    }
    String s = Files.readString(log, StandardCharsets.UTF_8).strip();
    return s.length() <= 2000 ? s : "..." + s.substring(s.length() - 2000);
  }
}
