package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 12's VM in CI: {@code vm/demo.sh --debian DIR}, the README's command, builds the Debian 12 base
 * (mmdebstrap, systemd, 8 GiB disk, 1 GiB RAM) and captures it, installs the app inside the guest with apt
 * from a repository served on loopback and captures again, makes the overlay, records the start-up,
 * serves the reordered overlay at 38 Mbit/s and early-starts it with {@code launch}, then synthesizes and
 * resumes it; every answer is checked by the scripts against the one app.sh verified with model.py.
 *
 * <p>DIR is {@code EARLYSTART_DEBVM_DIR}, default {@code ~/.cache/earlystart/debian-vm}: outside the clone,
 * so that the build (about 4 minutes on 2 cores, most of it mmdebstrap and apt under TCG) is reused by
 * later runs while its inputs stay the same (build.sh and app.sh key their work on them); a fresh machine
 * builds it. Runs hold {@code DIR.lock} (flock) so that two test runs on one host do not share it at once.
 */
@Timeout(1800)
class DebianVmIT {
  private static final Pattern EARLY = Pattern.compile(
      "early start \\(earlystart launch\\)\\s+([0-9.]+) s\\s+\\(([0-9]+) MB fetched by then\\)");
  private static final Pattern SYNTH = Pattern.compile("synthesize, then resume\\s+([0-9.]+) s");

  @Test
  void theDebianVmIsBuiltCapturedAndEarlyStartedWithTheAppsAnswer() throws Exception {
    TestVm.requireTools("mmdebstrap", "dpkg-scanpackages", "debugfs", "flock", "chroot");
    requireRoot();
    Path dir = Path.of(System.getenv().getOrDefault("EARLYSTART_DEBVM_DIR",
        System.getProperty("user.home") + "/.cache/earlystart/debian-vm")).toAbsolutePath();
    Files.createDirectories(dir.getParent());
    Path log = TestVm.ROOT.resolve("cli/target/debian-vm-demo.log");
    Process p = new ProcessBuilder("flock", "-w", "1200", dir + ".lock", TestVm.ROOT.resolve("vm/demo.sh").toString(),
        "--debian", dir.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!p.waitFor(28, TimeUnit.MINUTES)) {
      p.destroy();
      p.waitFor(60, TimeUnit.SECONDS);
      p.destroyForcibly();
      fail("vm/demo.sh --debian " + dir + " did not finish within 28 minutes: " + tail(log, dir));
    }
    String out = Files.readString(log);
    assertEquals(0, p.exitValue(), "vm/demo.sh --debian " + dir + " failed: " + tail(log, dir));

    Path vm = dir.resolve("vm");
    String expected = Files.readString(vm.resolve("expected-answer.txt")).strip();
    assertTrue(expected.startsWith("EARLYSTART-DEBIAN-APP md5="), expected);
    assertTrue(out.contains("  answer: " + expected + "\n"), out);
    Matcher early = EARLY.matcher(out);
    Matcher synth = SYNTH.matcher(out);
    assertTrue(early.find() && synth.find(), out);

    // the paper's scale: 8 GiB disk, 1 GiB RAM, both sparse; the customised VM differs from its base
    for (String image : List.of("base", "app")) {
      assertEquals(8L << 30, Files.size(vm.resolve(image + "/disk.img")), image);
      assertEquals(1L << 30, Files.size(vm.resolve(image + "/memory.img")), image);
    }
    // the guest ran systemd to multi-user with the semantic-gap settings, as the base's build saw it
    String guest = Files.readString(vm.resolve("logs/base-guest.txt"));
    assertTrue(guest.contains("systemd: running"), guest);
    assertTrue(guest.contains("discard"), guest);
    assertTrue(guest.contains("virtio_balloon"), guest);
    // the app was installed with apt inside the guest, the 100 MiB download checked and deleted
    String install = Files.readString(vm.resolve("logs/app-apt-install.txt"));
    assertTrue(install.contains("Setting up earlystart-app"), install);
    assertTrue(install.contains("Setting up python3-numpy"), install);
    assertTrue(Files.readString(vm.resolve("logs/app-fetch.txt")).contains("EARLYSTART-FETCHED 104857600 bytes"));

    // capture wrote a complete vm.json from QMP: what launch needs, nothing written by hand
    @SuppressWarnings("unchecked")
    Map<String, Object> config = (Map<String, Object>) Json.parse(Files.readString(vm.resolve("app/vm.json")));
    for (String key : List.of("machine", "ram", "kernel", "kernelSha256", "initrd", "initrdSha256", "append",
        "balloon", "guestAgent", "net", "disk", "memoryBackend")) {
      assertTrue(config.containsKey(key), key + " missing from app/vm.json: " + config);
    }
    assertEquals("1024M", config.get("ram"));
    assertTrue(String.valueOf(config.get("append")).contains("root=/dev/vda"), String.valueOf(config.get("append")));
  }

  /** The build needs root (mmdebstrap's chroot, file owners in the tree, apt-get download as root). */
  private static void requireRoot() throws Exception {
    Process id = new ProcessBuilder("id", "-u").start();
    String uid = new String(id.getInputStream().readAllBytes()).strip();
    id.waitFor(10, TimeUnit.SECONDS);
    if (!"0".equals(uid)) {
      String why = "the Debian VM's build (vm/debian/build.sh) needs root";
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        fail(why + " (CI=true: failing instead of skipping)");
      }
      org.junit.jupiter.api.Assumptions.abort(why);
    }
  }

  /** The log's last lines and the build log's, for a failure message. */
  private static String tail(Path log, Path dir) throws Exception {
    StringBuilder b = new StringBuilder();
    for (Path p : List.of(log, dir.resolve("build.log"))) {
      if (Files.isRegularFile(p)) {
        List<String> lines = Files.readAllLines(p);
        b.append("\n--- ").append(p).append('\n')
            .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size())));
      }
    }
    return b.toString();
  }
}
