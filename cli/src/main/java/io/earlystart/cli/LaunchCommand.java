package io.earlystart.cli;

import io.earlystart.fusefs.EarlyStart;
import io.earlystart.overlay.format.Attachment;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
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

  @picocli.CommandLine.Mixin
  QemuOptions qemu;

  @Option(names = "--mount-point", paramLabel = "DIR", description = "Where to mount (default: CACHE_DIR/mnt).")
  Path mountPoint;

  @Option(names = "--share", description = "RAM share=on: guest writes go back to the mounted memory.img "
      + "(needed to capture the VM again). Default share=off: a private copy-on-write mapping.")
  boolean share;

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

  /**
   * "JVM start to launch N s, ": from {@code EARLYSTART_START_NS} (set by bin/earlystart when it starts, in
   * nanoseconds since the epoch) to now, or "" without it.
   */
  private static String jvmStart() {
    String start = System.getenv("EARLYSTART_START_NS");
    if (start == null || !start.matches("[0-9]{1,19}")) {
      return "";
    }
    java.time.Instant now = java.time.Instant.now();
    long nanos = (now.getEpochSecond() * 1_000_000_000L + now.getNano()) - Long.parseLong(start);
    return nanos >= 0 ? "JVM start to launch " + Units.seconds(nanos) + ", " : "";
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Path mnt = (mountPoint != null ? mountPoint : early.cacheDir.resolve("mnt")).toAbsolutePath().normalize();
    Path run = early.cacheDir.resolve("run").toAbsolutePath().normalize();
    for (Path p : preload != null ? List.of(qemu.kernel, qemu.initrd, preload) : List.of(qemu.kernel, qemu.initrd)) {
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
    List<String> extra = new ArrayList<>();
    if (smallFaults && early.fuseOptions.stream().noneMatch(o -> o.startsWith("max_readahead="))) {
      extra.add("max_readahead=4096");
    }
    long t0 = System.nanoTime();
    String jvm = jvmStart();
    CountDownLatch finished = new CountDownLatch(1);
    try (EarlyStart es = EarlyStart.open(early.options(base))) {
      long opened = System.nanoTime();
      byte[] config = es.attachment(Attachment.VM_CONFIG);
      if (config == null || !es.hasAttachment(Attachment.VMSTATE)) {
        throw new IOException("overlay " + es.head().id() + " carries no vm.json or no vmstate: it cannot be launched");
      }
      VmConfig vm = VmConfig.parse(new String(config, StandardCharsets.UTF_8));
      QemuVm.Check bootFiles = vm.checkBootFilesAsync(qemu.kernel, qemu.initrd); // done before the guest runs
      Files.createDirectories(mnt);
      es.mount(mnt, early.mountOptions(extra)); // the stream starts first: mounting and starting QEMU overlap with it
      long mounted = System.nanoTime();
      failIfFetchingStopped(es); // e.g. a full cache disk, found while mounting: no QEMU then
      int hostPort = qemu.hostPort();
      List<String> argv = vm.argv(qemu.qemu, qemu.kernel, qemu.initrd, mnt, share, hostPort, run);
      argv.addAll(qemuArgs);
      QemuVm q;
      try {
        q = QemuVm.start(argv, preloads, run);
      } catch (IOException e) {
        failIfFetchingStopped(es); // the cause, when fetching stopped first (the same full disk)
        throw e;
      }
      ShutdownHook hook = new ShutdownHook(q.shutdownHook(finished));
      QemuVm.Check fetching = () -> {
        failIfFetchingStopped(es);
        bootFiles.check();
      };
      try {
        q.resume(mnt.resolve("vmstate"), qemu.resumeTimeout, fetching);
        long running = System.nanoTime();
        es.mark("resumed");
        out.printf("resumed %s: %smount %s (source, head and base check %s, FUSE mount %s), QEMU start to running %s, "
            + "guest port %d at 127.0.0.1:%d (QEMU pid %d; %s RAM faults; log %s)%n", es.head().id(),
            jvm, Units.seconds(mounted - t0), Units.seconds(opened - t0), Units.seconds(mounted - opened),
            Units.seconds(running - mounted), vm.guestPort, hostPort, q.process().pid(), smallFaults ? "4 KiB" : "2 MiB",
            q.log());
        out.flush();
        q.waitForExit(fetching);
        out.printf("QEMU exited with %d%n", q.process().exitValue());
        out.flush();
      } finally {
        q.stop();
        hook.close();
      }
    } finally {
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
}
