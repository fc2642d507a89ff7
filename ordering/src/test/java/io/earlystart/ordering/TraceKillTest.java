package io.earlystart.ordering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.format.Image;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A writer killed with SIGKILL while appending leaves a readable trace. */
class TraceKillTest {
  @TempDir Path dir;

  @Test
  void killedWriterLeavesAReadableTrace() throws Exception {
    for (long killAt : new long[] {1 << 20, 3 << 20}) {
      Path file = dir.resolve("k" + killAt + ".trace");
      Path log = dir.resolve("k" + killAt + ".log");
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
          TraceWriterChild.class.getName(), file.toString())
          .redirectErrorStream(true)
          .redirectOutput(log.toFile())
          .start();
      try {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!Files.exists(file) || Files.size(file) < killAt) {
          assertTrue(child.isAlive(), () -> "child died: " + read(log));
          assertTrue(System.nanoTime() < deadline, "child too slow");
          Thread.sleep(5);
        }
      } finally {
        child.destroyForcibly(); // SIGKILL on Unix
        child.waitFor();
      }
      assertEquals(137, child.exitValue(), () -> read(log)); // 128 + SIGKILL

      Trace trace = Trace.read(file);
      assertTrue(trace.size() * 16L >= killAt / 2, "size " + trace.size());
      for (int i = 0; i < trace.size(); i++) {
        assertEquals(i, trace.chunk(i));
        assertEquals(i, trace.nanos(i));
        assertEquals(i % 2 == 0 ? Image.DISK : Image.MEMORY, trace.image(i));
      }
      assertTrue(trace.marks().size() > 1);
      for (Map.Entry<String, Long> m : trace.marks().entrySet()) {
        assertEquals("m" + m.getValue(), m.getKey());
      }
      assertTrue(trace.ignoredTailBytes() < 16, "ignored " + trace.ignoredTailBytes());
      assertFalse(Files.exists(dir.resolve(file.getFileName() + ".tmp")));
    }
  }

  private static String read(Path log) {
    try {
      return Files.readString(log);
    } catch (Exception e) {
      return e.toString();
    }
  }
}
