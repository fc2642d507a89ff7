package io.earlystart.cli;

import io.earlystart.fusefs.EarlyStart;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code earlystart mount}: the customised VM's images at once, while the overlay streams in. In the
 * foreground it serves until unmounted ({@code fusermount -u MOUNTPOINT}), SIGINT or SIGTERM; without
 * {@code --foreground} it starts itself in the background, waits until the mount answers, and returns.
 */
@Command(name = "mount", mixinStandardHelpOptions = true,
    description = {"Mount disk.img, memory.img, vmstate, vm.json and status of the customised VM at MOUNTPOINT "
        + "at once; overlay chunks arrive in the background, and a read of one that has not arrived fetches it "
        + "ahead of the stream.",
        "Unmount with: fusermount -u MOUNTPOINT (the cache directory keeps what arrived and what the guest wrote; "
            + "mounting again resumes)."})
final class MountCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @picocli.CommandLine.Mixin
  BaseImages base;

  @picocli.CommandLine.Mixin
  EarlyStartOptions early;

  @Parameters(index = "0", paramLabel = "MOUNTPOINT", description = "An existing, empty directory.")
  Path mountPoint;

  @Option(names = "--foreground", description = "Serve in this process until unmounted or stopped.")
  boolean foreground;

  @Option(names = "--ready-timeout", paramLabel = "DURATION", defaultValue = "60s",
      converter = DurationConverter.class, hidden = true,
      description = "Background mode: how long to wait for the mount to answer.")
  Duration readyTimeout;

  @Override
  public Integer call() throws Exception {
    if (!foreground) {
      return new BackgroundMount(spec, mountPoint, early.cacheDir, readyTimeout).start();
    }
    return serve();
  }

  private int serve() throws Exception {
    var out = spec.commandLine().getOut();
    // SIGINT/SIGTERM: the hook unmounts, then waits (bounded) until this thread has closed the cache,
    // since the JVM halts as soon as its hooks return
    java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicReference<EarlyStart> mounted = new java.util.concurrent.atomic.AtomicReference<>();
    ShutdownHook hook = new ShutdownHook(new Thread(() -> {
      EarlyStart es = mounted.get();
      try {
        if (es != null) {
          es.unmount();
        }
        finished.await(30, TimeUnit.SECONDS);
      } catch (IOException | RuntimeException e) {
        System.err.println("earlystart: unmounting " + mountPoint + ": " + e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "earlystart-mount-shutdown"));
    try {
      serveUntilUnmounted(out, mounted);
    } finally {
      finished.countDown();
      hook.close();
    }
    out.printf("unmounted %s%n", mountPoint);
    out.flush();
    return 0;
  }

  private void serveUntilUnmounted(java.io.PrintWriter out, java.util.concurrent.atomic.AtomicReference<EarlyStart> mounted)
      throws Exception {
    try (EarlyStart es = EarlyStart.open(early.options(base))) {
      Path mp = es.mount(mountPoint, early.mountOptions(List.of()));
      mounted.set(es);
      var m = es.head().manifest();
      out.printf("mounted %s: overlay %s from %s, %d segments (%d already in %s)%n", mp,
          es.head().id(), early.source, m.segments().size(), es.scheduler().presentCount(), early.cacheDir);
      out.flush();
      es.scheduler().completion().whenComplete((v, t) -> {
        if (t == null) {
          System.err.println("earlystart: every segment has arrived");
        } else {
          System.err.println("earlystart: fetching stopped: "
              + Errors.describe(t.getCause() != null ? t.getCause() : t));
        }
      });
      try {
        es.loopExit().get();
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IOException("the FUSE loop of " + mountPoint + " failed: " + e.getCause(), e.getCause());
      }
    }
  }

  /** Starts {@code mount --foreground} as a detached child and waits until its mount answers. */
  static final class BackgroundMount {
    private final picocli.CommandLine.Model.CommandSpec spec;
    private final Path mountPoint;
    private final Path cacheDir;
    private final Duration readyTimeout;

    BackgroundMount(picocli.CommandLine.Model.CommandSpec spec, Path mountPoint, Path cacheDir, Duration readyTimeout) {
      this.spec = spec;
      this.mountPoint = mountPoint.toAbsolutePath().normalize();
      this.cacheDir = cacheDir;
      this.readyTimeout = readyTimeout;
    }

    int start() throws IOException, InterruptedException {
      Files.createDirectories(cacheDir);
      Path log = cacheDir.resolve("mount.log");
      List<String> cmd = new ArrayList<>();
      if (onPath("setsid")) {
        cmd.add("setsid"); // its own session: a closing terminal does not take the mount with it
      }
      cmd.add(ProcessHandle.current().info().command().orElse("java"));
      cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
      cmd.add("-cp");
      cmd.add(System.getProperty("java.class.path"));
      cmd.add(spec.root().userObject().getClass().getName()); // the main class, as this JVM was started
      cmd.addAll(spec.commandLine().getParseResult().originalArgs());
      cmd.add("--foreground");
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
      long deadline = System.nanoTime() + readyTimeout.toNanos();
      var out = spec.commandLine().getOut();
      while (true) {
        if (!p.isAlive()) {
          String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8).strip() : "";
          String lastLine = text.isEmpty() ? "exited " + p.exitValue() : text.substring(text.lastIndexOf('\n') + 1);
          spec.commandLine().getErr().println(lastLine.startsWith("earlystart: ") ? lastLine : "earlystart: " + lastLine);
          return p.exitValue() == 0 ? Errors.EXIT_ERROR : p.exitValue();
        }
        if (Files.exists(log) && Files.readString(log, StandardCharsets.UTF_8).contains("mounted " + mountPoint)) {
          out.printf("mounted %s (pid %d, log %s); unmount with: fusermount -u %s%n", mountPoint, p.pid(), log,
              mountPoint);
          out.flush();
          return 0;
        }
        if (System.nanoTime() - deadline > 0) {
          p.destroy();
          p.waitFor(10, TimeUnit.SECONDS);
          throw new IOException("mount of " + mountPoint + " not ready after " + readyTimeout.toSeconds() + " s; see "
              + log);
        }
        Thread.sleep(20);
      }
    }

    private static boolean onPath(String tool) {
      for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
        if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
          return true;
        }
      }
      return false;
    }
  }
}
