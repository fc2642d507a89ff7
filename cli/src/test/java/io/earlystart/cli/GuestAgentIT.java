package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
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
 * {@link GuestAgent} and capture's trim against the real QEMU guest agent (Debian's qemu-ga 7.2, run on
 * the host on a Unix socket, as a guest runs it on its virtio-serial port). Where it trims for real, it
 * runs chrooted in its own mount namespace whose only block-device file system is a loop-mounted ext4:
 * guest-fstrim trims what /proc/self/mountinfo shows it, and the host's file systems are not there.
 * The test VM trims by itself and has no agent (LaunchIT covers that line).
 */
@Timeout(120)
class GuestAgentIT {
  @TempDir Path tmp;

  @BeforeAll
  static void needsQemuGa() {
    boolean found = Stream.of(System.getenv().getOrDefault("PATH", "").split(":"))
        .anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, "qemu-ga")));
    if (!found) {
      String why = "qemu-ga not found (Debian package qemu-guest-agent, scripts/packages.txt)";
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        fail(why + " (CI=true: failing instead of skipping)");
      }
      org.junit.jupiter.api.Assumptions.abort(why);
    }
  }

  private Process agent(Path socket) throws Exception {
    Process p = new ProcessBuilder("qemu-ga", "-m", "unix-listen", "-p", socket.toString(), "-b", "guest-fstrim",
        "-t", tmp.toString(), "-f", tmp.resolve("qemu-ga.pid").toString()).redirectErrorStream(true)
        .redirectOutput(tmp.resolve("qemu-ga.log").toFile()).start();
    for (int i = 0; i < 200 && !Files.exists(socket); i++) {
      Thread.sleep(25);
    }
    assertTrue(Files.exists(socket), "qemu-ga did not listen: " + Files.readString(tmp.resolve("qemu-ga.log")));
    return p;
  }

  @Test
  void synchronisesWithTheRealAgentAndReportsWhatItRefuses() throws Exception {
    Path socket = tmp.resolve("qga.sock");
    Process p = agent(socket);
    try {
      for (int session = 0; session < 2; session++) { // a second client syncs past what the first left
        try (GuestAgent a = GuestAgent.connect(socket, Duration.ofSeconds(10))) {
          IOException e = assertThrows(IOException.class, () -> a.fstrim(Duration.ofSeconds(10)));
          assertTrue(e.getMessage().startsWith("the guest agent refused: ") && e.getMessage().contains("fstrim"),
              e.getMessage());
        }
      }
    } finally {
      p.destroy();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /**
   * capture of a (paused) QEMU with {@code --guest-agent}: qemu-ga trims its file system for real and
   * capture says what it trimmed, then saves the VM as always.
   */
  @Test
  void captureTrimsTheFileSystemsOfARealAgent() throws Exception {
    TestVm.requireTools("unshare", "chroot", "mkfs.ext4", "ldd");
    Path root = Files.createDirectories(tmp.resolve("agent-root"));
    Path qga = Path.of("/usr/sbin/qemu-ga");
    List<Path> files = new ArrayList<>(List.of(qga));
    Process ldd = new ProcessBuilder("ldd", qga.toString()).redirectErrorStream(true).start();
    String libs = new String(ldd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(ldd.waitFor(30, TimeUnit.SECONDS) && ldd.exitValue() == 0, libs);
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(/\\S+)").matcher(libs);
    while (m.find()) {
      files.add(Path.of(m.group(1)));
    }
    for (Path f : files) {
      Path to = root.resolve(f.toString().substring(1));
      Files.createDirectories(to.getParent());
      Files.copy(f.toRealPath(), to); // libraries are symlinks: the file itself
    }
    for (String d : List.of("proc", "data", "run")) {
      Files.createDirectories(root.resolve(d));
    }
    Path image = tmp.resolve("data.img");
    try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(64 << 20);
    }
    Process mkfs = new ProcessBuilder("mkfs.ext4", "-q", "-F", image.toString()).redirectErrorStream(true).start();
    assertTrue(mkfs.waitFor(60, TimeUnit.SECONDS) && mkfs.exitValue() == 0, "mkfs.ext4 failed");
    String script = "mount -o loop " + image + " " + root.resolve("data") + " && mount -t proc proc "
        + root.resolve("proc") + " && exec chroot " + root + " /usr/sbin/qemu-ga -m unix-listen -p /run/qga.sock"
        + " -t /run -f /run/qga.pid";
    Process agent = new ProcessBuilder("unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script)
        .redirectErrorStream(true).redirectOutput(tmp.resolve("qemu-ga.log").toFile()).start();
    Path socket = root.resolve("run/qga.sock");
    Path qmp = tmp.resolve("q.sock");
    Process q = TestVm.pausedQemu(tmp, true);
    try {
      for (int i = 0; i < 200 && !Files.exists(socket); i++) {
        Thread.sleep(25);
      }
      assertTrue(Files.exists(socket), "qemu-ga did not listen: " + Files.readString(tmp.resolve("qemu-ga.log")));
      CliTest.Run c = CliTest.run("capture", "--qmp", qmp.toString(), "--out", tmp.resolve("out").toString(),
          "--guest-agent", socket.toString());
      assertEquals(0, c.code(), c.out() + c.err());
      assertTrue(c.out().matches("(?s).*trim: the guest agent trimmed [0-9.]+ [KMG]i?B in \\d+ ms: /data \\(.*"),
          c.out());
      assertTrue(c.out().contains("free memory: the VM has no virtio-balloon"), c.out());
      assertTrue(Files.size(tmp.resolve("out/vmstate")) > 0);
    } finally {
      q.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      agent.destroy();
      agent.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** A port nobody answers on (QEMU's socket when no agent runs in the guest): a clear error in time. */
  @Test
  void anAgentThatNeverAnswersIsAnErrorWithinTheDeadline() throws Exception {
    Path socket = tmp.resolve("silent.sock");
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(socket));
      long t0 = System.nanoTime();
      IOException e = assertThrows(IOException.class, () -> GuestAgent.connect(socket, Duration.ofMillis(500)));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(e.getMessage().contains("no answer from the guest agent") && e.getMessage().contains("500 ms"),
          e.getMessage());
      assertTrue(ms < 5_000, "gave up after " + ms + " ms");
      try (SocketChannel accepted = server.accept()) {
        assertTrue(accepted.isConnected());
      }
    }
  }

  @Test
  void noSocketIsAnErrorNamingIt() {
    Path socket = tmp.resolve("none.sock");
    IOException e = assertThrows(IOException.class, () -> GuestAgent.connect(socket, Duration.ofSeconds(1)));
    assertTrue(e.getMessage().contains(socket.toString()), e.getMessage());
  }
}
