package io.earlystart.ordering;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.earlystart.overlay.format.Image;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Traces merged into one access order: a chunk's earliest first touch in any trace. */
class TraceOrderTest {
  private static final String ID = "ab".repeat(32);

  @TempDir Path dir;

  @Test
  void mergesTracesByTheEarliestTouch() throws Exception {
    Path a = dir.resolve("a.trace");
    Path b = dir.resolve("b.trace");
    try (TraceWriter w = TraceWriter.create(a, ID)) {
      w.touch(10, Image.DISK, 7);
      w.touch(20, Image.MEMORY, 7);
      w.touch(30, Image.DISK, 1);
      w.touch(40, Image.DISK, 7); // a later touch of the same chunk does not count
    }
    try (TraceWriter w = TraceWriter.create(b, ID)) {
      w.touch(5, Image.DISK, 1);
      w.touch(50, Image.MEMORY, 9);
    }
    TraceOrder o = TraceOrder.of(List.of(Trace.read(a), Trace.read(b)));
    assertEquals(10, o.firstTouch(Image.DISK, 7));
    assertEquals(5, o.firstTouch(Image.DISK, 1));
    assertEquals(20, o.firstTouch(Image.MEMORY, 7));
    assertEquals(50, o.firstTouch(Image.MEMORY, 9));
    assertEquals(-1, o.firstTouch(Image.DISK, 9));
    assertEquals(-1, o.firstTouch(Image.MEMORY, 1));
    assertEquals(2, o.touched(Image.DISK));
    assertEquals(2, o.touched(Image.MEMORY));
  }
}
