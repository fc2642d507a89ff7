package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.cli.example.ExampleImages;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands as a user runs them: exit codes, one-line errors, and the files they leave. */
class CliTest {
  @TempDir
  static Path dir;

  static ExampleImages.Result images;
  static Path overlay;
  /** What the create of {@link #overlay} printed. */
  static String created;

  @BeforeAll
  static void makeOverlay() throws Exception {
    images = ExampleImages.generate(dir.resolve("images"), new ExampleImages.Spec(7, 16 << 20, 8 << 20));
    overlay = dir.resolve("app.overlay");
    Run r = create(images, overlay);
    assertTrue(r.out.contains("differ from the base"), r.out);
    created = r.out;
  }

  /** {@code earlystart create} of {@code images} (attachments included) into {@code overlay}; must succeed. */
  static Run create(ExampleImages.Result images, Path overlay, String... more) {
    List<String> args = new java.util.ArrayList<>(List.of("create", "--base-disk", images.baseDisk().toString(),
        "--base-memory", images.baseMemory().toString(), "--disk", images.disk().toString(), "--memory",
        images.memory().toString(), "--vmstate", images.vmstate().toString(), "--vm-config",
        images.vmConfig().toString(), "-o", overlay.toString()));
    args.addAll(List.of(more));
    Run r = run(args.toArray(new String[0]));
    assertEquals(0, r.code, r.err);
    return r;
  }

  record Run(int code, String out, String err) {}

  static synchronized Run run(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int code = Main.run(args);
      return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  @Test
  void synthesizeReproducesEveryFile() throws Exception {
    Path out = dir.resolve("out");
    Run r = run("synthesize", "--base-disk", images.baseDisk().toString(), "--base-memory",
        images.baseMemory().toString(), overlay.toString(), "-o", out.toString());
    assertEquals(0, r.code, r.err);
    for (Path original : List.of(images.disk(), images.memory(), images.vmstate(), images.vmConfig())) {
      Path made = out.resolve(original.getFileName().toString().equals("vm.json") ? "vm.json"
          : original.getFileName().toString());
      assertArrayEquals(Files.readAllBytes(original), Files.readAllBytes(made), made.toString());
    }
  }

  @Test
  void accessOrderedCreateAndReorderSynthesizeTheSameImages() throws Exception {
    Path trace = dir.resolve("first.trace");
    try (io.earlystart.ordering.TraceWriter w = io.earlystart.ordering.TraceWriter.create(trace, "ab".repeat(32))) {
      for (int c = 0; c < 2000; c += 7) { // memory and disk interleaved, memory first
        w.touch(c, io.earlystart.overlay.format.Image.MEMORY, 2000 - c);
        w.touch(c + 1, io.earlystart.overlay.format.Image.DISK, c);
      }
    }
    Path ordered = dir.resolve("ordered.overlay");
    Run created = run("create", "--base-disk", images.baseDisk().toString(), "--base-memory",
        images.baseMemory().toString(), "--disk", images.disk().toString(), "--memory", images.memory().toString(),
        "--trace", trace.toString(), "-q", "-o", ordered.toString());
    assertEquals(0, created.code, created.err);
    Path reordered = dir.resolve("reordered.overlay");
    Run r = run("reorder", overlay.toString(), "--trace", trace.toString(), "-o", reordered.toString());
    assertEquals(0, r.code, r.err);
    assertTrue(r.out.contains("payloads touched by the trace(s) stream first"), r.out);
    for (Path x : List.of(ordered, reordered)) {
      Path out = dir.resolve("out-" + x.getFileName());
      Run s = run("synthesize", "-q", "--base-disk", images.baseDisk().toString(), "--base-memory",
          images.baseMemory().toString(), x.toString(), "-o", out.toString());
      assertEquals(0, s.code, s.err);
      assertArrayEquals(Files.readAllBytes(images.disk()), Files.readAllBytes(out.resolve("disk.img")), x.toString());
      assertArrayEquals(Files.readAllBytes(images.memory()), Files.readAllBytes(out.resolve("memory.img")));
    }
    Run same = run("reorder", overlay.toString(), "--trace", trace.toString(), "-o", overlay.toString());
    assertEquals(Errors.EXIT_ERROR, same.code, same.err);
    assertTrue(same.err.contains("another file"), same.err);
    Run noTrace = run("reorder", overlay.toString(), "--trace", dir.resolve("missing.trace").toString(), "-o",
        dir.resolve("x.overlay").toString());
    assertEquals(Errors.EXIT_ERROR, noTrace.code, noTrace.err);
    assertEquals(1, noTrace.err.strip().lines().count(), noTrace.err);
  }

  @Test
  void noDedupIsAcceptedAndTheSummarySaysSo() throws Exception {
    java.util.regex.Pattern noBase = java.util.regex.Pattern.compile("base-disk 0, base-memory 0,");
    assertFalse(created.contains("dedup off"), created);
    assertTrue(created.lines().anyMatch(l -> l.contains("differ from the base") && !noBase.matcher(l).find()),
        "the example pair has no copies of base chunks: " + created);
    Path plain = dir.resolve("no-dedup.overlay");
    Run r = create(images, plain, "--no-dedup");
    assertTrue(r.out.contains("dedup off"), r.out);
    assertEquals(2, r.out.lines().filter(l -> l.contains("differ from the base") && noBase.matcher(l).find()).count(),
        r.out);
    assertTrue(Files.size(plain) > Files.size(overlay), "no larger without dedup: " + Files.size(plain));
    Run v = run("inspect", "--verify", plain.toString());
    assertEquals(0, v.code, v.err);
  }

  @Test
  void inspectVerifies() {
    Run r = run("inspect", "--verify", "--segments", overlay.toString());
    assertEquals(0, r.code, r.err);
    assertTrue(r.out.contains("verified"), r.out);
    assertTrue(r.out.contains("segment     0"), r.out);
  }

  @Test
  void corruptOverlayIsOneLineAndExitCode3() throws Exception {
    Path bad = dir.resolve("bad.overlay");
    byte[] b = Files.readAllBytes(overlay);
    b[b.length - 10] ^= 0x40; // inside the last segment
    Files.write(bad, b);
    Run r = run("inspect", "--verify", bad.toString());
    assertEquals(Errors.EXIT_CORRUPT, r.code);
    assertEquals(1, r.err.strip().lines().count(), r.err);
    assertTrue(r.err.startsWith("earlystart: corrupt overlay " + bad), r.err);
    assertTrue(r.err.contains("SHA-256 mismatch"), r.err);
  }

  @Test
  void verboseAddsTheStackTrace() throws Exception {
    Path bad = dir.resolve("short.overlay");
    Files.write(bad, new byte[10]);
    Run r = run("inspect", "--verbose", bad.toString());
    assertEquals(Errors.EXIT_CORRUPT, r.code);
    assertTrue(r.err.contains("truncated header"), r.err);
    assertTrue(r.err.contains("\tat io.earlystart"), r.err);
  }

  @Test
  void wrongBaseExitCode4() {
    Path out = dir.resolve("wrong");
    Run r = run("synthesize", "--base-disk", images.disk().toString(), "--base-memory",
        images.baseMemory().toString(), overlay.toString(), "-o", out.toString());
    assertEquals(Errors.EXIT_WRONG_BASE, r.code, r.err);
    assertTrue(r.err.contains("wrong base disk"), r.err);
    assertFalse(Files.exists(out.resolve("disk.img")));
  }

  @Test
  void missingFileNamesIt() {
    Run r = run("create", "--base-disk", dir.resolve("nope.img").toString(), "--base-memory",
        images.baseMemory().toString(), "--disk", images.disk().toString(), "--memory", images.memory().toString(),
        "-o", dir.resolve("x.overlay").toString());
    assertEquals(Errors.EXIT_ERROR, r.code);
    assertEquals("earlystart: base disk not found: " + dir.resolve("nope.img"), r.err.strip());
  }

  @Test
  void exampleImagesTakesARelativeDirectory() throws Exception {
    Path relative = Path.of("").toAbsolutePath().relativize(dir.resolve("relative"));
    Run r = run("example-images", relative.toString(), "--disk-size", "16M", "--memory-size", "4M");
    assertEquals(0, r.code, r.err);
    assertTrue(Files.size(dir.resolve("relative/disk.img")) == 16 << 20);
  }

  @Test
  void badCommandLineIsUsageError() {
    Run r = run("create", "--disk");
    assertEquals(2, r.code);
  }
}
