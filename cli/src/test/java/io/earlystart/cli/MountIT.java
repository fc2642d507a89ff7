package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.earlystart.cli.CliTest.Run;
import io.earlystart.cli.example.ExampleImages;
import io.earlystart.fusefs.fuse.MountTable;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code earlystart mount} and {@code earlystart status} as a user runs them: a background mount in its
 * own JVM, the images through it, unmount with fusermount; one-line errors and exit codes for bad input.
 */
@Timeout(120)
class MountIT {
  @TempDir static Path dir;
  static ExampleImages.Result images;
  static Path overlay;

  @TempDir Path tmp;
  private Path mnt;

  @BeforeAll
  static void makeOverlay() throws Exception {
    if (!Files.isWritable(Path.of("/dev/fuse"))) {
      String why = "earlystart mount needs /dev/fuse";
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        fail(why + " (CI=true: failing instead of skipping)");
      }
      org.junit.jupiter.api.Assumptions.abort(why);
    }
    images = ExampleImages.generate(dir.resolve("images"), new ExampleImages.Spec(11, 16 << 20, 8 << 20));
    overlay = dir.resolve("app.overlay");
    CliTest.create(images, overlay, "--segment-size", "64KiB");
  }

  /** The background mount processes this test started: @AfterEach waits for them after the unmount. */
  private final java.util.List<Long> mountPids = new java.util.ArrayList<>();

  @AfterEach
  void unmount() throws Exception {
    if (mnt != null && MountTable.isMounted(mnt)) {
      new ProcessBuilder("fusermount", "-u", mnt.toString()).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
    }
    // a mount process checkpoints its cache after the unmount: the temporary directory goes only after that
    for (long pid : mountPids) {
      ProcessHandle.of(pid).ifPresent(h -> h.onExit().orTimeout(20, TimeUnit.SECONDS).handle((v, t) -> v).join());
    }
  }

  private Run mount(String source, Path baseDisk, Path cache) throws Exception {
    mnt = Files.createDirectories(tmp.resolve("mnt"));
    Run r = CliTest.run("mount", "--base-disk", baseDisk.toString(), "--base-memory", images.baseMemory().toString(),
        "--source", source, "--cache-dir", cache.toString(), mnt.toString());
    java.util.regex.Matcher pid = java.util.regex.Pattern.compile("\\(pid (\\d+)").matcher(r.out());
    if (pid.find()) {
      mountPids.add(Long.parseLong(pid.group(1)));
    }
    return r;
  }

  @Test
  @SuppressWarnings("unchecked")
  void mountsInTheBackgroundServesTheImagesAndUnmountsCleanly() throws Exception {
    Path cache = tmp.resolve("cache");
    Run r = mount(overlay.toString(), images.baseDisk(), cache);
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("mounted " + mnt.toAbsolutePath()), r.out());
    assertTrue(MountTable.isMounted(mnt));

    assertArrayEquals(Files.readAllBytes(images.disk()), Files.readAllBytes(mnt.resolve("disk.img")));
    assertArrayEquals(Files.readAllBytes(images.memory()), Files.readAllBytes(mnt.resolve("memory.img")));
    assertArrayEquals(Files.readAllBytes(images.vmstate()), Files.readAllBytes(mnt.resolve("vmstate")));
    assertArrayEquals(Files.readAllBytes(images.vmConfig()), Files.readAllBytes(mnt.resolve("vm.json")));

    Run json = CliTest.run("status", "--json", mnt.toString());
    assertEquals(0, json.code(), json.err());
    Map<String, Object> s = (Map<String, Object>) Json.parse(json.out());
    Map<String, Object> seg = (Map<String, Object>) s.get("segments");
    assertEquals(seg.get("total"), seg.get("applied"), "every segment was read, so every one is applied");
    Run human = CliTest.run("status", mnt.toString());
    assertEquals(0, human.code(), human.err());
    assertTrue(human.out().contains("segments  "), human.out());

    Process u = new ProcessBuilder("fusermount", "-u", mnt.toString()).redirectErrorStream(true).start();
    assertTrue(u.waitFor(10, TimeUnit.SECONDS));
    assertEquals(0, u.exitValue(), new String(u.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    // the background mount process ends after it has checkpointed the cache (not at its unmount log line)
    java.util.regex.Matcher pid = java.util.regex.Pattern.compile("\\(pid (\\d+)").matcher(r.out());
    assertTrue(pid.find(), r.out());
    ProcessHandle.of(Long.parseLong(pid.group(1)))
        .ifPresent(h -> assertTrue(h.onExit().orTimeout(10, TimeUnit.SECONDS).handle((v, t) -> t == null).join(),
            "the mount process did not finish: " + readQuietly(cache.resolve("mount.log"))));
    assertFalse(MountTable.isMounted(mnt));
    // it ended cleanly: no JVM crash report, and the cache's journal was folded into its snapshot at close
    assertFalse(readQuietly(cache.resolve("mount.log")).contains("A fatal error"), readQuietly(cache.resolve("mount.log")));
    assertEquals(0, Files.size(cache.resolve("journal")), readQuietly(cache.resolve("mount.log")));
  }

  private static String readQuietly(Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException e) {
      return "(" + p + ": " + e + ")";
    }
  }

  @Test
  void sigtermUnmountsAndKeepsTheGuestsWrites() throws Exception {
    Path cache = tmp.resolve("cache");
    mnt = Files.createDirectories(tmp.resolve("mnt"));
    java.util.List<String> cmd = java.util.List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "mount", "--foreground", "--base-disk",
        images.baseDisk().toString(), "--base-memory", images.baseMemory().toString(), "--source",
        overlay.toString(), "--cache-dir", cache.toString(), mnt.toString());
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    java.io.BufferedReader out = new java.io.BufferedReader(
        new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    try {
      String line;
      while ((line = out.readLine()) != null && !line.startsWith("mounted ")) {
        // the log lines before it
      }
      assertTrue(line != null, "the mount ended before it was ready");
      byte[] mine = "written before SIGTERM".getBytes(StandardCharsets.UTF_8);
      try (var ch = java.nio.channels.FileChannel.open(mnt.resolve("disk.img"),
          java.nio.file.StandardOpenOption.WRITE)) {
        ch.write(java.nio.ByteBuffer.wrap(mine), 12345);
      }
      // SIGTERM (not Process.destroy(), which also closes our end of its output)
      assertEquals(0, new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor());
      assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the mount did not stop on SIGTERM");
      StringBuilder rest = new StringBuilder();
      for (String l; (l = out.readLine()) != null; ) {
        rest.append(l).append('\n');
      }
      assertTrue(rest.toString().contains("unmounted " + mnt.toAbsolutePath()), rest.toString());
      assertFalse(MountTable.isMounted(mnt));

      Run again = mount(overlay.toString(), images.baseDisk(), cache);
      assertEquals(0, again.code(), again.err());
      byte[] back = new byte[mine.length];
      try (var ch = java.nio.channels.FileChannel.open(mnt.resolve("disk.img"))) {
        ch.read(java.nio.ByteBuffer.wrap(back), 12345);
      }
      assertArrayEquals(mine, back);
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void wrongBaseIsOneLineAndExitFour() throws Exception {
    Run r = mount(overlay.toString(), images.baseMemory(), tmp.resolve("cache"));
    assertEquals(Errors.EXIT_WRONG_BASE, r.code(), r.out() + r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().startsWith("earlystart: wrong base disk"), r.err());
    assertFalse(MountTable.isMounted(mnt));
  }

  @Test
  void corruptOverlayIsOneLineAndExitThree() throws Exception {
    Path bad = tmp.resolve("bad.overlay");
    Files.copy(overlay, bad);
    try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
      f.seek(100); // inside the manifest
      int b = f.read();
      f.seek(100);
      f.write(b ^ 0x40);
    }
    Run r = mount(bad.toString(), images.baseDisk(), tmp.resolve("cache"));
    assertEquals(Errors.EXIT_CORRUPT, r.code(), r.out() + r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains("corrupt overlay"), r.err());
    assertFalse(MountTable.isMounted(mnt));
  }

  @Test
  void cacheOfAnotherOverlayIsRefused() throws Exception {
    Path cache = Files.createDirectories(tmp.resolve("cache"));
    Files.writeString(cache.resolve("overlay-id"), "00".repeat(32) + "\n");
    Run r = mount(overlay.toString(), images.baseDisk(), cache);
    assertEquals(Errors.EXIT_ERROR, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("holds overlay 0000"), r.err());
    assertFalse(MountTable.isMounted(mnt));
  }

  @Test
  void unreachableSourceFailsWithinTheOpenTimeout() throws Exception {
    long t0 = System.nanoTime();
    Run r = mount("es://127.0.0.1:1/app.overlay", images.baseDisk(), tmp.resolve("cache"));
    assertEquals(Errors.EXIT_ERROR, r.code(), r.out() + r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0) < 30);
    assertFalse(MountTable.isMounted(mnt));
  }

  /**
   * A mount that does not answer (its daemon stopped with SIGSTOP here; a daemon whose threads all wait
   * would look the same): status says so at its deadline, exit 1, instead of hanging with it.
   */
  @Test
  void statusOfAMountThatDoesNotAnswerEndsAtItsDeadline() throws Exception {
    Run r = mount(overlay.toString(), images.baseDisk(), tmp.resolve("cache"));
    assertEquals(0, r.code(), r.err());
    java.util.regex.Matcher pid = java.util.regex.Pattern.compile("\\(pid (\\d+)").matcher(r.out());
    assertTrue(pid.find(), r.out());
    String daemon = pid.group(1);
    assertEquals(0, new ProcessBuilder("kill", "-STOP", daemon).start().waitFor());
    try {
      long t0 = System.nanoTime();
      Run status = CliTest.run("status", "--timeout", "2s", mnt.toString());
      long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertEquals(Errors.EXIT_ERROR, status.code(), status.out() + status.err());
      assertTrue(status.err().contains(mnt.resolve("status") + " did not answer within 2.00 s"), status.err());
      assertEquals(1, status.err().strip().lines().count(), status.err());
      assertTrue(took < 5_000, "status took " + took + " ms");
    } finally {
      new ProcessBuilder("kill", "-CONT", daemon).start().waitFor();
    }
    Run again = CliTest.run("status", mnt.toString());
    assertEquals(0, again.code(), again.err());
  }
}
