package io.earlystart.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One stock QEMU that resumes a saved VM from files (an early-start mount or plain images): started
 * with {@code -incoming defer}, then over QMP x-ignore-shared, {@code migrate-incoming} from the vmstate
 * file, {@code cont}. Shared by {@code launch} and {@code resume}. Every wait has a deadline; {@link
 * #stop()} is QMP quit, then SIGTERM, then SIGKILL.
 */
final class QemuVm {
  /** Throws the reason to stop waiting for QEMU, if there is one (a fetch that failed for good). */
  @FunctionalInterface
  interface Check {
    void check() throws IOException;

    Check NONE = () -> {};
  }

  private final Process process;
  private final Path run;

  private QemuVm(Process process, Path run) {
    this.process = process;
    this.run = run;
  }

  /**
   * Starts QEMU with {@code argv} (from {@link VmConfig#argv}, whose QMP socket and log are in {@code run}),
   * with {@code preloads} as LD_PRELOAD. Writes its pid to {@code run/qemu.pid}, as vm/lib.sh's run
   * directories have it.
   */
  static QemuVm start(List<String> argv, List<String> preloads, Path run) throws IOException {
    try {
      Files.createDirectories(run);
      Files.deleteIfExists(run.resolve("qmp.sock"));
      Files.writeString(run.resolve("argv"), String.join(" ", argv) + "\n");
    } catch (java.nio.file.FileSystemException e) {
      throw e; // names its file
    } catch (IOException e) {
      throw new IOException("cannot write QEMU's run directory " + run + ": " + e.getMessage(), e);
    }
    ProcessBuilder qb = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log(run).toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    if (!preloads.isEmpty()) {
      qb.environment().put("LD_PRELOAD", String.join(":", preloads));
    }
    Process p = qb.start();
    try {
      Files.writeString(run.resolve("qemu.pid"), p.pid() + "\n");
    } catch (IOException e) {
      p.destroyForcibly();
      throw e;
    }
    return new QemuVm(p, run);
  }

  Process process() {
    return process;
  }

  Path log() {
    return log(run);
  }

  private static Path log(Path run) {
    return run.resolve("qemu.log");
  }

  /**
   * A shutdown hook that stops QEMU, then waits (30 s at most) for {@code finished}: SIGINT/SIGTERM of the
   * command end QEMU first and let the command's own clean-up (unmount) run to its end.
   */
  Thread shutdownHook(CountDownLatch finished) {
    return new Thread(() -> {
      stop();
      try {
        finished.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "earlystart-qemu-shutdown");
  }

  /**
   * QMP: x-ignore-shared, migrate-incoming from {@code vmstate}, wait until loaded, cont. {@code check} runs
   * while loading and once more just before {@code cont}; what it throws stops the resume.
   */
  void resume(Path vmstate, Duration timeout, Check check) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (Qmp qmp = Qmp.connect(run.resolve("qmp.sock"), timeout, process::isAlive)) {
      Duration step = Duration.ofSeconds(30);
      qmp.execute("migrate-set-capabilities",
          "{\"capabilities\": [{\"capability\": \"x-ignore-shared\", \"state\": true}]}", step);
      qmp.execute("migrate-incoming", "{\"uri\": " + Json.quote(Qmp.execUri("cat", vmstate)) + "}", step);
      while (true) {
        Object status = qmp.execute("query-status", null, step) instanceof java.util.Map<?, ?> m ? m.get("status")
            : null;
        if ("paused".equals(status) || "postmigrate".equals(status)) {
          break;
        }
        if (!"inmigrate".equals(status)) {
          throw new IOException("QEMU did not resume from " + vmstate + " (status " + status + "); see " + log());
        }
        if (!process.isAlive()) {
          throw new IOException("QEMU exited while loading the vmstate: " + lastLine(log()));
        }
        if (System.nanoTime() - deadline > 0) {
          throw new IOException("QEMU did not finish loading the vmstate within " + timeout.toSeconds() + " s");
        }
        check.check();
        Thread.sleep(5);
      }
      check.check(); // the last word before the guest runs
      qmp.execute("cont", null, step);
    } catch (IOException e) {
      check.check(); // the real cause (corrupt overlay, source gone) when there is one
      if (!process.isAlive()) {
        throw new IOException("QEMU exited: " + lastLine(log()), e);
      }
      throw e;
    }
  }

  /** Until QEMU exits; throws when {@code check} does (QEMU is then stopped) or QEMU fails. */
  void waitForExit(Check check) throws IOException, InterruptedException {
    while (!process.waitFor(200, TimeUnit.MILLISECONDS)) {
      check.check();
    }
    check.check(); // a memory read that failed kills QEMU with SIGBUS: say why
    if (process.exitValue() != 0) {
      throw new IOException("QEMU exited with " + process.exitValue() + (process.exitValue() == 135 ? " (SIGBUS)" : "")
          + ": " + lastLine(log()));
    }
  }

  /** QMP quit, then SIGTERM, then SIGKILL, each with a short deadline. */
  void stop() {
    if (!process.isAlive()) {
      return;
    }
    try (Qmp qmp = Qmp.connect(run.resolve("qmp.sock"), Duration.ofSeconds(2), process::isAlive)) {
      qmp.execute("quit", null, Duration.ofSeconds(2));
    } catch (IOException e) {
      // fall through to signals
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }

  static String lastLine(Path log) {
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

  static int freePort() throws IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
