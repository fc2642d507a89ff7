package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.earlystart.cli.CliTest.Run;
import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.fetcher.server.ServerOptions;
import io.earlystart.fusefs.fuse.MountTable;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code earlystart launch} with the real test VM of {@code vm/build.sh} (Debian kernel, busybox, an
 * app whose answer is the md5 of a model it loads) under stock QEMU: resumed from an early-start mount
 * of an overlay served over an emulated 38 Mbit/s link, the app's first answer is correct; a wrong
 * base fails before QEMU starts; SIGTERM stops QEMU and unmounts. The VM is built once into
 * {@code target/vm} (about 40 s, downloads cached there).
 */
@Timeout(600)
class LaunchIT {
  static Path vm;
  static String expected;
  @TempDir static Path shared;
  static Path served;

  @TempDir Path tmp;

  @BeforeAll
  static void buildVm() throws Exception {
    TestVm.requireTools();
    vm = TestVm.build("vm", TestVm.none());
    expected = Files.readString(vm.resolve("expected-answer.txt")).strip();
    served = Files.createDirectories(shared.resolve("served"));
    TestVm.create(vm, served.resolve("app.overlay"));
  }

  private Process launch(String source, Path baseDisk, Path cache, int port, String... extra) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), Main.class.getName(), "launch", "--base-disk",
        baseDisk.toString(), "--base-memory", vm.resolve("base/memory.img").toString(), "--source", source,
        "--cache-dir", cache.toString(), "--kernel", vm.resolve("kernel/vmlinuz").toString(), "--initrd",
        vm.resolve("initramfs.cpio.gz").toString(), "--port", Integer.toString(port)));
    cmd.addAll(List.of(extra));
    return new ProcessBuilder(cmd).redirectErrorStream(true).start();
  }

  /** A launch that has printed its "resumed" line, with the rest of its output still to read. */
  record Launched(Process process, BufferedReader out, String resumedLine) {
    /** SIGTERM, then checks that QEMU quit and the mount is gone. */
    void stop(Path cache, int port) throws Exception {
      assertEquals(0, new ProcessBuilder("kill", "-TERM", Long.toString(process.pid())).start().waitFor());
      assertTrue(process.waitFor(60, TimeUnit.SECONDS), "launch did not stop on SIGTERM");
      StringBuilder rest = new StringBuilder();
      for (String l; (l = out.readLine()) != null; ) {
        rest.append(l).append('\n');
      }
      assertTrue(rest.toString().contains("QEMU exited"), rest.toString());
      assertNothingLeft(cache, port);
    }
  }

  private Launched resumed(String source, Path cache, int port, String... extra) throws Exception {
    Process p = launch(source, vm.resolve("base/disk.img"), cache, port, extra);
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    StringBuilder log = new StringBuilder();
    String line;
    while ((line = out.readLine()) != null && !line.startsWith("resumed ")) {
      log.append(line).append('\n');
    }
    if (line == null) {
      p.destroyForcibly();
      fail("launch ended before the VM resumed:\n" + log);
    }
    return new Launched(p, out, line);
  }

  private static String answer(int port) throws Exception {
    return HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/cgi-bin/infer"))
            .timeout(Duration.ofSeconds(120)).build(), HttpResponse.BodyHandlers.ofString()).body().strip();
  }

  /**
   * Issue 5's end-to-end claim: record the VM's start-up with launch --trace-out from the local overlay,
   * reorder the overlay by it, serve that at 38 Mbit/s + 10 ms, launch: the answer is correct and less
   * than half of the overlay had to cross the link before it.
   */
  @Test
  @SuppressWarnings("unchecked")
  void anAccessOrderedOverlayAnswersBeforeHalfOfItHasArrived() throws Exception {
    Path trace = tmp.resolve("startup.trace");
    int port = freePort();
    Path recordCache = tmp.resolve("record-cache");
    Launched rec = resumed(served.resolve("app.overlay").toString(), recordCache, port, "--trace-out",
        trace.toString());
    try {
      assertEquals(expected, answer(port));
      rec.stop(recordCache, port);
    } finally {
      rec.process().destroyForcibly();
    }
    Path orderedDir = Files.createDirectories(tmp.resolve("ordered"));
    Run r = CliTest.run("reorder", served.resolve("app.overlay").toString(), "--trace", trace.toString(), "-o",
        orderedDir.resolve("app.overlay").toString());
    assertEquals(0, r.code(), r.err());
    long overlayBytes = Files.size(orderedDir.resolve("app.overlay"));
    try (OverlayServer server = OverlayServer.start(ServerOptions.of(orderedDir).withBind("127.0.0.1", 0)
        .withRate(38_000_000 / 8).withDelay(Duration.ofMillis(10)))) {
      Path cache = tmp.resolve("cache");
      int port2 = freePort();
      Launched l = resumed("es://127.0.0.1:" + server.port() + "/app.overlay", cache, port2);
      try {
        assertEquals(expected, answer(port2), "the app's first answer");
        java.util.Map<String, Object> status = (java.util.Map<String, Object>) Json.parse(
            Files.readString(cache.resolve("mnt/status")));
        double fetched = (Double) ((java.util.Map<String, Object>) status.get("bytes")).get("fetched");
        assertTrue(fetched < overlayBytes / 2.0, "fetched " + (long) fetched + " of the " + overlayBytes
            + "-byte overlay before the first answer; " + l.resumedLine() + "; status " + status);
        l.stop(cache, port2);
      } finally {
        l.process().destroyForcibly();
      }
    }
  }

  @Test
  void aServerThatDiesStopsTheVmWithAClearError() throws Exception {
    Path cache = tmp.resolve("cache");
    int port = freePort();
    OverlayServer server = OverlayServer.start(ServerOptions.of(served).withBind("127.0.0.1", 0)
        .withRate(38_000_000 / 8).withDelay(Duration.ofMillis(10)));
    Launched l;
    try {
      l = resumed("es://127.0.0.1:" + server.port() + "/app.overlay", cache, port, "--memory-wait", "3s");
    } finally {
      server.close();
    }
    try {
      assertTrue(l.process().waitFor(90, TimeUnit.SECONDS), "launch must give up once the source is gone");
      StringBuilder rest = new StringBuilder();
      for (String line; (line = l.out().readLine()) != null; ) {
        rest.append(line).append('\n');
      }
      assertEquals(Errors.EXIT_ERROR, l.process().exitValue(), rest.toString());
      assertTrue(rest.toString().contains("earlystart: ") && rest.toString().contains("unreachable"), rest.toString());
      assertNothingLeft(cache, port);
    } finally {
      l.process().destroyForcibly();
    }
  }

  @Test
  void aCorruptSegmentStopsTheVmWithExitThree() throws Exception {
    Path bad = Files.createDirectories(tmp.resolve("bad")).resolve("app.overlay");
    Files.copy(served.resolve("app.overlay"), bad);
    long size = Files.size(bad);
    try (var f = new java.io.RandomAccessFile(bad.toFile(), "rw")) {
      for (long at = size / 3; at < size; at += size / 16) { // inside segments all over the stream
        f.seek(at);
        int b = f.read();
        f.seek(at);
        f.write(b ^ 0x5a);
      }
    }
    Path cache = tmp.resolve("cache");
    int port = freePort();
    Process p = launch(bad.toString(), vm.resolve("base/disk.img"), cache, port);
    try {
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "launch must stop on a corrupt overlay");
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(Errors.EXIT_CORRUPT, p.exitValue(), out);
      assertTrue(out.contains("earlystart: corrupt overlay"), out);
      assertNothingLeft(cache, port);
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * A cache directory on a file system with 12 MiB (a tmpfs: root only, as mounting FUSE's fusectl is):
   * the overlay does not fit, launch stops the VM and says where it could not write.
   */
  @Test
  void aFullCacheDiskStopsTheVmWithAClearError() throws Exception {
    Path small = Files.createDirectories(tmp.resolve("small"));
    Process m = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", small.toString())
        .redirectErrorStream(true).start();
    String why = new String(m.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (m.waitFor() != 0) {
      String msg = "a full cache disk needs a small tmpfs, and mount -t tmpfs failed: " + why;
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        fail(msg + " (CI=true: failing instead of skipping)");
      }
      org.junit.jupiter.api.Assumptions.abort(msg);
    }
    try {
      Path cache = small.resolve("cache");
      int port = freePort();
      Process p = launch(served.resolve("app.overlay").toString(), vm.resolve("base/disk.img"), cache, port);
      try {
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "launch must stop when the cache disk is full");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(Errors.EXIT_ERROR, p.exitValue(), out);
        // which write meets the full disk first is a race (a segment, or QEMU's run directory in it):
        // either way one line that says what and where
        String last = out.strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("earlystart: cannot write ") && last.contains(cache.toString())
            && last.endsWith("No space left on device"), out);
        assertNothingLeft(cache, port);
      } finally {
        p.destroyForcibly();
      }
    } finally {
      new ProcessBuilder("umount", "-l", small.toString()).start().waitFor(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void captureSavesARunningVmSoThatItResumes() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("vm"));
    String runDir = bootBase(dir, java.util.Map.of());
    Path out = tmp.resolve("captured");
    Run c = CliTest.run("capture", "--qmp", Path.of(runDir, "qmp.sock").toString(), "--out", out.toString());
    assertEquals(0, c.code(), c.err());
    assertTrue(c.out().contains("captured into"), c.out());
    // the test VM trims by itself (rootflags=discard) and has no agent: one line says so
    assertTrue(c.out().contains("trim: the VM has no guest agent"), c.out());
    // it has the balloon with free-page reporting: capture waited for memory.img to stop shrinking
    assertTrue(c.out().contains("no longer shrinking"), c.out());
    // vm.json is complete from QMP alone: what launch and resume need, the boot files' SHA-256s included
    String config = Files.readString(out.resolve("vm.json"));
    @SuppressWarnings("unchecked")
    java.util.Map<String, Object> got = (java.util.Map<String, Object>) Json.parse(config);
    @SuppressWarnings("unchecked")
    java.util.Map<String, Object> built = (java.util.Map<String, Object>) Json.parse(
        Files.readString(vm.resolve("base/vm.json")));
    // "pc" as QEMU resolved it: the versioned type, which a resume on a later QEMU needs
    assertTrue(String.valueOf(got.get("machine")).matches("pc-i440fx-\\d+\\.\\d+"), config);
    for (String key : List.of("ram", "ramBytes", "accel", "smp", "append", "kernelSha256", "initrdSha256",
        "balloon")) {
      assertEquals(built.get(key), got.get(key), key + " in " + config);
    }
    assertEquals(80.0, ((java.util.Map<?, ?>) got.get("net")).get("guestPort"), config);
    java.util.Map<?, ?> disk = (java.util.Map<?, ?>) got.get("disk");
    assertEquals("writeback", disk.get("cache"), config);
    assertEquals("unmap", disk.get("discard"), config);
    assertEquals("unmap", disk.get("detectZeroes"), config);
    assertTrue(config.contains("\"share\": true") && config.contains("memory.img"), config);
    assertFalse(c.out().contains("vm.json: "), c.out()); // nothing had to be assumed
    resumeCaptured(out, dir); // the captured vm.json: resume needs nothing else
  }

  /**
   * The guest agent's port, found over QMP: this guest runs no qemu-ga, so nobody answers and one line says
   * so; vm.json records the port (device state) and the VM resumes with it.
   */
  @Test
  void captureFindsTheGuestAgentsPortOverQmpAndTheVmResumesWithIt() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("vm"));
    String runDir = bootBase(dir, java.util.Map.of("VM_GUEST_AGENT", "1"));
    Path out = tmp.resolve("captured");
    Run c = CliTest.run("capture", "--qmp", Path.of(runDir, "qmp.sock").toString(), "--out", out.toString(),
        "--settle-timeout", "0s");
    assertEquals(0, c.code(), c.err());
    assertTrue(c.out().contains("trim: not trimmed: no answer from the guest agent on "
        + Path.of(runDir, "qga.sock")), c.out());
    assertTrue(Files.readString(out.resolve("vm.json")).contains("\"port\": \"org.qemu.guest_agent.0\""));
    resumeCaptured(out, dir);
  }

  /** Boots a copy of the base VM in {@code dir} with vm/run.sh ({@code env} added); its run directory. */
  private String bootBase(Path dir, java.util.Map<String, String> env) throws Exception {
    Files.copy(vm.resolve("base/disk.img"), dir.resolve("disk.img"));
    ProcessBuilder boot = new ProcessBuilder(TestVm.ROOT.resolve("vm/run.sh").toString(), "--fresh", dir.toString())
        .redirectErrorStream(true);
    boot.environment().put("VM_KERNEL", vm.resolve("kernel/vmlinuz").toString());
    boot.environment().put("VM_INITRD", vm.resolve("initramfs.cpio.gz").toString());
    boot.environment().putAll(env);
    Process b = boot.start();
    String out = new String(b.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(b.waitFor(200, TimeUnit.SECONDS) && b.exitValue() == 0, out);
    return out.lines().filter(l -> l.startsWith("RUN_DIR=")).findFirst().orElseThrow().substring(8).replace("'", "");
  }

  /** Moves capture's vmstate and vm.json from {@code out} next to {@code dir}'s images; vm/resume-check.sh. */
  private void resumeCaptured(Path out, Path dir) throws Exception {
    Files.move(out.resolve("vmstate"), dir.resolve("vmstate"));
    Files.move(out.resolve("vm.json"), dir.resolve("vm.json"));
    ProcessBuilder check = new ProcessBuilder(TestVm.ROOT.resolve("vm/resume-check.sh").toString(), dir.toString())
        .redirectErrorStream(true);
    check.environment().put("VM_KERNEL", vm.resolve("kernel/vmlinuz").toString());
    check.environment().put("VM_INITRD", vm.resolve("initramfs.cpio.gz").toString());
    Process k = check.start();
    String res = new String(k.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(k.waitFor(120, TimeUnit.SECONDS) && k.exitValue() == 0, res);
    assertTrue(res.contains("resume check OK"), res);
  }

  @Test
  void captureRefusesAVmWhoseRamIsNotASharedFile() throws Exception {
    Path sock = tmp.resolve("q.sock");
    Process q = TestVm.pausedQemu(tmp, false);
    try {
      Run c = CliTest.run("capture", "--qmp", sock.toString(), "--out", tmp.resolve("x").toString());
      assertEquals(Errors.EXIT_ERROR, c.code(), c.out() + c.err());
      assertTrue(c.err().contains("not a shared file"), c.err());
      assertEquals(1, c.err().strip().lines().count(), c.err());
    } finally {
      q.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void resumesFromAnEarlyStartMountAndAnswersCorrectly() throws Exception {
    try (OverlayServer server = OverlayServer.start(ServerOptions.of(served).withBind("127.0.0.1", 0)
        .withRate(38_000_000 / 8).withDelay(Duration.ofMillis(10)))) {
      int port = freePort();
      Path cache = tmp.resolve("cache");
      Launched l = resumed("es://127.0.0.1:" + server.port() + "/app.overlay", cache, port);
      try {
        assertEquals(expected, answer(port), "the app's first answer");
        l.stop(cache, port); // SIGTERM: QEMU quits, the mount goes away, the process ends
      } finally {
        l.process().destroyForcibly();
      }
    }
  }

  @Test
  void aWrongBaseFailsBeforeQemuStarts() throws Exception {
    Path cache = tmp.resolve("cache");
    int port = freePort();
    Process p = launch(served.resolve("app.overlay").toString(), vm.resolve("app/disk.img"), cache, port);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(Errors.EXIT_WRONG_BASE, p.exitValue(), out);
    assertTrue(out.contains("earlystart: wrong base disk"), out);
    assertFalse(Files.exists(cache.resolve("run/qemu.log")), "QEMU must not have been started");
    assertFalse(qemuRunningOn(port), "no QEMU may be left behind");
  }

  /** After a launch ended: its mount is gone and no QEMU serves its port. */
  /**
   * resume: the customised VM's own files (vm/build.sh's app/, -snapshot keeps its disk as it is) answer,
   * the guest's disk writes do not reach disk.img, SIGTERM ends QEMU and the run directory it made. Its
   * memory.img is a sparse copy: with the free-page-reporting balloon, QEMU 7.2 punches the pages the guest
   * frees out of the RAM file even with share=off, and app/memory.img is what the other tests start from.
   */
  @Test
  void resumeStartsTheVmFromPlainImages() throws Exception {
    int port = freePort();
    Path run = tmp.resolve("resume-run");
    Path images = Files.createDirectories(tmp.resolve("resume-vm"));
    Process cp = new ProcessBuilder("cp", "--sparse=always", vm.resolve("app/memory.img").toString(),
        images.resolve("memory.img").toString()).inheritIO().start();
    assertTrue(cp.waitFor(60, TimeUnit.SECONDS) && cp.exitValue() == 0, "cp of memory.img");
    for (String f : new String[] {"disk.img", "vmstate", "vm.json"}) {
      Files.createLink(images.resolve(f), vm.resolve("app").resolve(f));
    }
    byte[] diskBefore = Files.readAllBytes(vm.resolve("app/disk.img"));
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "resume", images.toString(),
        "--kernel", vm.resolve("kernel/vmlinuz").toString(), "--initrd", vm.resolve("initramfs.cpio.gz").toString(),
        "--port", Integer.toString(port), "--run-dir", run.toString(), "--", "-snapshot").redirectErrorStream(true)
        .start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      assertTrue(line != null && line.startsWith("resumed "), String.valueOf(line));
      assertEquals(expected, answer(port));
      // the run directory names its QEMU as vm/lib.sh's do (RUN/qemu.pid)
      String pid = Files.readString(run.resolve("qemu.pid")).strip();
      assertTrue(line.contains("(QEMU pid " + pid + ";"), line + " vs qemu.pid " + pid);
      assertTrue(Files.readString(Path.of("/proc", pid, "cmdline")).contains("qemu-system-"), "qemu.pid " + pid);
      assertEquals(0, new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor());
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "resume did not stop on SIGTERM");
      assertEquals(128 + 15, p.exitValue(), "a JVM ended by SIGTERM exits with 143");
      assertEquals("QEMU exited with 0", out.readLine(), "QEMU quit before the JVM did");
      assertFalse(qemuRunningOn(port), "no QEMU may be left behind");
      assertEquals(-1, java.util.Arrays.mismatch(diskBefore, Files.readAllBytes(vm.resolve("app/disk.img"))),
          "-snapshot: disk.img must be as it was");
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * vm.json records the SHA-256 of the kernel and initrd: with another pair the guest never runs (the
   * check runs while QEMU starts and is waited for before cont), exit 4, no QEMU left.
   */
  @Test
  void aWrongKernelOrInitrdNeverRunsTheGuest() throws Exception {
    Path wrongInitrd = Files.write(tmp.resolve("other-initrd"), new byte[] {1, 2, 3});
    int port = freePort();
    // child processes with a deadline: were the check gone, QEMU would resume and run on
    Process resume = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "resume", vm.resolve("app").toString(),
        "--kernel", vm.resolve("kernel/vmlinuz").toString(), "--initrd", wrongInitrd.toString(), "--port",
        Integer.toString(port), "--", "-snapshot").redirectErrorStream(true).start();
    try {
      assertTrue(resume.waitFor(60, TimeUnit.SECONDS), "resume must refuse the wrong initrd at once");
      String out = new String(resume.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(Errors.EXIT_WRONG_BASE, resume.exitValue(), out);
      assertTrue(out.contains(wrongInitrd + " is not the initrd this VM was booted with (sha256 "), out);
      assertEquals(1, out.strip().lines().count(), out);
      assertFalse(qemuRunningOn(port), "no QEMU may be left");
    } finally {
      resume.destroyForcibly();
      killQemuOn(port); // only when the assertions above failed: a JVM killed with SIGKILL leaves its QEMU
    }
    Path cache = tmp.resolve("cache");
    Path kernelAsInitrd = vm.resolve("initramfs.cpio.gz");
    Process launch = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "launch", "--base-disk",
        vm.resolve("base/disk.img").toString(), "--base-memory", vm.resolve("base/memory.img").toString(), "--source",
        served.resolve("app.overlay").toString(), "--cache-dir", cache.toString(), "--kernel", kernelAsInitrd.toString(),
        "--initrd", vm.resolve("initramfs.cpio.gz").toString(), "--port", Integer.toString(port))
        .redirectErrorStream(true).start();
    try {
      assertTrue(launch.waitFor(60, TimeUnit.SECONDS), "launch must refuse the wrong kernel");
      String out = new String(launch.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(Errors.EXIT_WRONG_BASE, launch.exitValue(), out);
      assertTrue(out.contains(kernelAsInitrd + " is not the kernel this VM was booted with"), out);
      assertNothingLeft(cache, port);
    } finally {
      launch.destroyForcibly();
      killQemuOn(port);
    }
  }

  @Test
  void resumeOfADirectoryWithoutVmstateIsAOneLineError() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("no-vmstate"));
    for (String f : List.of("disk.img", "memory.img", "vm.json")) {
      Files.copy(vm.resolve("app").resolve(f), dir.resolve(f));
    }
    Run r = CliTest.run("resume", dir.toString(), "--kernel", vm.resolve("kernel/vmlinuz").toString(), "--initrd",
        vm.resolve("initramfs.cpio.gz").toString());
    assertEquals(Errors.EXIT_ERROR, r.code(), r.err());
    assertTrue(r.err().contains(dir.resolve("vmstate").toString()), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
  }

  static void assertNothingLeft(Path cache, int port) throws java.io.IOException {
    assertFalse(MountTable.isMounted(cache.resolve("mnt")), "the mount must be gone");
    assertFalse(qemuRunningOn(port), "no QEMU may be left behind");
  }

  private static void killQemuOn(int port) {
    ProcessHandle.allProcesses().filter(h -> h.info().commandLine()
        .map(c -> c.contains("qemu-system") && c.contains("127.0.0.1:" + port + "-")).orElse(false))
        .forEach(ProcessHandle::destroyForcibly);
  }

  private static boolean qemuRunningOn(int port) {
    return ProcessHandle.allProcesses().anyMatch(h -> h.info().commandLine()
        .map(c -> c.contains("qemu-system") && c.contains("127.0.0.1:" + port + "-")).orElse(false));
  }

  private static int freePort() throws java.io.IOException {
    return QemuVm.freePort();
  }
}
