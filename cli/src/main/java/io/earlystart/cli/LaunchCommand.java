package io.earlystart.cli;

import io.earlystart.fusefs.EarlyImage;
import io.earlystart.fusefs.EarlyStart;
import io.earlystart.fusefs.FirstTouchTrace;
import io.earlystart.fusefs.Mounts;
import io.earlystart.overlay.Attachment;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code earlystart launch}: mounts the early-start images in this process and resumes the customised
 * VM from them with stock QEMU: {@code -incoming defer}, {@code x-ignore-shared}, {@code migrate-incoming}
 * from the mounted vmstate, {@code cont}. Reports the time to resume, then runs until QEMU exits, or
 * SIGINT/SIGTERM (QEMU is told to quit, the mount is unmounted, the cache checkpointed).
 */
@Command(name = "launch", mixinStandardHelpOptions = true,
    description = {"Mount the customised VM's images (as earlystart mount) and resume it in QEMU from them at once; "
        + "its guest port is forwarded to 127.0.0.1:PORT. Runs until QEMU exits or SIGINT/SIGTERM.",
        "The QEMU command line comes from the overlay's vm.json (RAM, machine, kernel command line, guest port); "
        + "the kernel and initrd are the base VM's, given with --kernel and --initrd. Arguments after -- go to QEMU."})
final class LaunchCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @picocli.CommandLine.Mixin
  BaseImages base;

  @picocli.CommandLine.Mixin
  EarlyStartOptions early;

  @Option(names = "--kernel", required = true, paramLabel = "FILE", description = "The base VM's kernel.")
  Path kernel;

  @Option(names = "--initrd", required = true, paramLabel = "FILE", description = "The base VM's initrd.")
  Path initrd;

  @Option(names = "--mount-point", paramLabel = "DIR", description = "Where to mount (default: CACHE_DIR/mnt).")
  Path mountPoint;

  @Option(names = "--port", paramLabel = "PORT", defaultValue = "0",
      description = "Host port for the guest's service on 127.0.0.1 (default: a free one).")
  int port;

  @Option(names = "--share", description = "RAM share=on: guest writes go back to the mounted memory.img "
      + "(needed to capture the VM again). Default share=off: a private copy-on-write mapping.")
  boolean share;

  @Option(names = "--qemu", paramLabel = "PROGRAM", defaultValue = "qemu-system-x86_64",
      description = "QEMU binary (default: ${DEFAULT-VALUE}).")
  String qemu;

  @Option(names = "--resume-timeout", paramLabel = "DURATION", defaultValue = "120s",
      converter = DurationConverter.class, description = "Deadline for QEMU to resume (default: ${DEFAULT-VALUE}).")
  Duration resumeTimeout;

  @Option(names = "--ram-faults", paramLabel = "SIZE", defaultValue = "4k",
      description = "How QEMU's RAM faults read memory.img: 4k (default) page by page, with QEMU's MADV_HUGEPAGE "
          + "made a no-op (LD_PRELOAD of the nohugepage library built with the CLI) and the mount's "
          + "max_readahead=4096 unless -o gives one; 2m: QEMU as it comes, every fault reads a 2 MiB window "
          + "(see native-notes/VM.md and bench/RESULTS.md).")
  String ramFaults;

  @Option(names = "--preload", paramLabel = "LIB.so",
      description = "Another library QEMU runs with (LD_PRELOAD).")
  Path preload;

  @Parameters(paramLabel = "QEMU_ARG", arity = "0..*", description = "Extra QEMU arguments (after --).")
  List<String> qemuArgs = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Path mnt = (mountPoint != null ? mountPoint : early.cacheDir.resolve("mnt")).toAbsolutePath().normalize();
    Path run = early.cacheDir.resolve("run").toAbsolutePath().normalize();
    for (Path p : preload != null ? List.of(kernel, initrd, preload) : List.of(kernel, initrd)) {
      if (!Files.isReadable(p)) {
        throw new java.nio.file.NoSuchFileException(p.toString(), null, "kernel, initrd or preload library not found");
      }
    }
    boolean smallFaults = smallFaults(ramFaults);
    List<String> preloads = new ArrayList<>();
    if (smallFaults) {
      preloads.add(NoHugePage.library().toString());
    }
    if (preload != null) {
      preloads.add(preload.toAbsolutePath().toString());
    }
    List<String> fuseOptions = new ArrayList<>(early.fuseOptions);
    if (smallFaults && fuseOptions.stream().noneMatch(o -> o.startsWith("max_readahead="))) {
      fuseOptions.add("max_readahead=4096");
    }
    long t0 = System.nanoTime();
    FirstTouchTrace trace = early.trace();
    CountDownLatch finished = new CountDownLatch(1);
    try (EarlyStart es = EarlyStart.open(early.options(base), trace != null ? trace : EarlyImage.Touches.NONE)) {
      byte[] config = es.attachment(Attachment.VM_CONFIG);
      if (config == null || es.attachment(Attachment.VMSTATE) == null) {
        throw new IOException("overlay " + es.head().id() + " carries no vm.json or no vmstate: it cannot be launched");
      }
      VmConfig vm = VmConfig.parse(new String(config, StandardCharsets.UTF_8));
      if (trace != null) {
        trace.begin(es.head().id(), es.head().manifest());
      }
      Files.createDirectories(mnt);
      Files.createDirectories(run);
      try (Mounts mount = Mounts.mount(es.fileSystem(), mnt, Mounts.writableOptions(fuseOptions),
          Duration.ofSeconds(30))) {
        es.startStream();
        long mounted = System.nanoTime();
        int hostPort = port != 0 ? port : freePort();
        Files.deleteIfExists(run.resolve("qmp.sock"));
        List<String> argv = vm.argv(qemu, kernel, initrd, mnt, share, hostPort, run);
        argv.addAll(qemuArgs);
        Files.writeString(run.resolve("argv"), String.join(" ", argv) + "\n");
        ProcessBuilder qb = new ProcessBuilder(argv).redirectErrorStream(true)
            .redirectOutput(run.resolve("qemu.log").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        if (!preloads.isEmpty()) {
          qb.environment().put("LD_PRELOAD", String.join(":", preloads));
        }
        Process q = qb.start();
        Thread hook = new Thread(() -> {
          stopQemu(q, run);
          try {
            finished.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }, "earlystart-launch-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
          resume(q, run, mnt, es);
          long running = System.nanoTime();
          if (trace != null) {
            trace.mark("resumed");
          }
          out.printf("resumed %s: mount %s, QEMU start to running %s, guest port %d at 127.0.0.1:%d (QEMU pid %d; "
              + "%s RAM faults; log %s)%n", es.head().id(), Units.seconds(mounted - t0), Units.seconds(running - mounted),
              vm.guestPort, hostPort, q.pid(), smallFaults ? "4 KiB" : "2 MiB", run.resolve("qemu.log"));
          out.flush();
          waitForExit(q, es, run.resolve("qemu.log"));
          out.printf("QEMU exited with %d%n", q.exitValue());
          out.flush();
        } finally {
          stopQemu(q, run);
          try {
            Runtime.getRuntime().removeShutdownHook(hook);
          } catch (IllegalStateException e) {
            // shutting down: the hook is running
          }
        }
      }
    } finally {
      if (trace != null) {
        trace.close();
      }
      finished.countDown();
    }
    return 0;
  }

  private boolean smallFaults(String size) {
    return switch (size.toLowerCase(java.util.Locale.ROOT)) {
      case "4k", "4kib" -> true;
      case "2m", "2mib" -> false;
      default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
          "--ram-faults takes 4k or 2m, not " + size);
    };
  }

  /** QMP: x-ignore-shared, migrate-incoming from the mounted vmstate, wait until paused, cont. */
  private void resume(Process q, Path run, Path mnt, EarlyStart es) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + resumeTimeout.toNanos();
    try (Qmp qmp = Qmp.connect(run.resolve("qmp.sock"), resumeTimeout, q::isAlive)) {
      Duration step = Duration.ofSeconds(30);
      qmp.execute("migrate-set-capabilities",
          "{\"capabilities\": [{\"capability\": \"x-ignore-shared\", \"state\": true}]}", step);
      String vmstate = mnt.resolve("vmstate").toString().replace("'", "'\\''");
      qmp.execute("migrate-incoming", "{\"uri\": " + Json.quote("exec:cat '" + vmstate + "'") + "}", step);
      while (true) {
        String status = qmp.execute("query-status", null, step);
        if (status.contains("\"paused\"") || status.contains("\"postmigrate\"")) {
          break;
        }
        if (!status.contains("\"inmigrate\"")) {
          throw new IOException("QEMU did not resume from the overlay's vmstate (status " + status
              + "); see " + run.resolve("qemu.log"));
        }
        if (!q.isAlive()) {
          throw new IOException("QEMU exited while loading the vmstate: " + lastLine(run.resolve("qemu.log")));
        }
        if (System.nanoTime() - deadline > 0) {
          throw new IOException("QEMU did not finish loading the vmstate within " + resumeTimeout.toSeconds() + " s");
        }
        failIfFetchingStopped(es);
        Thread.sleep(5);
      }
      qmp.execute("cont", null, step);
    } catch (IOException e) {
      failIfFetchingStopped(es); // the real cause (corrupt overlay, source gone) when there is one
      if (!q.isAlive()) {
        throw new IOException("QEMU exited: " + lastLine(run.resolve("qemu.log")), e);
      }
      throw e;
    }
  }

  /** Until QEMU exits; if fetching stops for good (source gone too long, corrupt segment), stops the VM. */
  private static void waitForExit(Process q, EarlyStart es, Path log) throws IOException, InterruptedException {
    while (!q.waitFor(200, TimeUnit.MILLISECONDS)) {
      failIfFetchingStopped(es);
    }
    failIfFetchingStopped(es); // a memory read that failed kills QEMU with SIGBUS: say why
    if (q.exitValue() != 0) {
      throw new IOException("QEMU exited with " + q.exitValue() + (q.exitValue() == 135 ? " (SIGBUS)" : "") + ": "
          + lastLine(log));
    }
  }

  private static void failIfFetchingStopped(EarlyStart es) throws IOException {
    var done = es.scheduler().completion();
    if (done.isCompletedExceptionally()) {
      Throwable t = done.handle((v, e) -> e).join();
      Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
      if (cause instanceof IOException io) {
        throw io;
      }
      throw new IOException(cause.getMessage(), cause);
    }
  }

  /** QMP quit, then SIGTERM, then SIGKILL, each with a short deadline. */
  private static void stopQemu(Process q, Path run) {
    if (!q.isAlive()) {
      return;
    }
    try (Qmp qmp = Qmp.connect(run.resolve("qmp.sock"), Duration.ofSeconds(2), q::isAlive)) {
      qmp.execute("quit", null, Duration.ofSeconds(2));
    } catch (IOException e) {
      // fall through to signals
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      if (!q.waitFor(5, TimeUnit.SECONDS)) {
        q.destroy();
        if (!q.waitFor(5, TimeUnit.SECONDS)) {
          q.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      q.destroyForcibly();
    }
  }

  private static String lastLine(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      for (int i = lines.size() - 1; i >= 0; i--) {
        if (!lines.get(i).isBlank()) {
          return lines.get(i).strip();
        }
      }
    } catch (IOException e) {
      // no log
    }
    return "(no output)";
  }

  private static int freePort() throws IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** What launch takes from vm.json (see native-notes/VM.md). */
  static final class VmConfig {
    String ram = "256M";
    String machine = "pc";
    String accel = "tcg";
    int smp = 1;
    String backendId = "pc.ram";
    String append = "console=ttyS0";
    String diskCache = "writeback";
    int guestPort = 80;

    @SuppressWarnings("unchecked")
    static VmConfig parse(String json) {
      Object o;
      try {
        o = Json.parse(json);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("the overlay's vm.json is not JSON: " + e.getMessage());
      }
      if (!(o instanceof Map<?, ?>)) {
        throw new IllegalArgumentException("the overlay's vm.json is not a JSON object");
      }
      Map<String, Object> m = (Map<String, Object>) o;
      VmConfig c = new VmConfig();
      c.ram = string(m, "ram", c.ram);
      c.machine = string(m, "machine", c.machine);
      c.accel = string(m, "accel", c.accel);
      c.append = string(m, "append", c.append);
      if (m.get("smp") instanceof Double d) {
        c.smp = d.intValue();
      }
      if (m.get("memoryBackend") instanceof Map<?, ?> b && b.get("id") instanceof String id) {
        c.backendId = id;
      }
      if (m.get("disk") instanceof Map<?, ?> d && d.get("cache") instanceof String cache) {
        c.diskCache = cache;
      }
      if (m.get("net") instanceof Map<?, ?> n && n.get("guestPort") instanceof Double p) {
        c.guestPort = p.intValue();
      }
      return c;
    }

    private static String string(Map<String, Object> m, String key, String fallback) {
      return m.get(key) instanceof String s ? s : fallback;
    }

    /** The command line of vm/lib.sh's vm_argv with {@code -incoming defer}, on the mounted images. */
    List<String> argv(String qemu, Path kernel, Path initrd, Path mnt, boolean share, int hostPort, Path run) {
      for (Path p : List.of(kernel, initrd, mnt, run)) {
        if (p.toString().contains(",")) {
          throw new IllegalArgumentException("QEMU cannot take a path with a comma: " + p);
        }
      }
      return new ArrayList<>(List.of(qemu, "-nodefaults", "-no-user-config", "-no-reboot",
          "-machine", machine + ",accel=" + accel + ",memory-backend=" + backendId, "-m", ram,
          "-object", "memory-backend-file,id=" + backendId + ",size=" + ram + ",mem-path=" + mnt.resolve("memory.img")
              + ",share=" + (share ? "on" : "off"),
          "-smp", Integer.toString(smp), "-display", "none", "-vga", "none",
          "-kernel", kernel.toAbsolutePath().toString(), "-initrd", initrd.toAbsolutePath().toString(),
          "-append", append,
          "-drive", "file=" + mnt.resolve("disk.img") + ",format=raw,if=none,id=d0,cache=" + diskCache,
          "-device", "virtio-blk-pci,drive=d0",
          "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:" + hostPort + "-:" + guestPort,
          "-device", "virtio-net-pci,netdev=n0,romfile=",
          "-serial", "file:" + run.resolve("serial.log"), "-qmp", "unix:" + run.resolve("qmp.sock") + ",server=on,wait=off",
          "-incoming", "defer"));
    }
  }
}
