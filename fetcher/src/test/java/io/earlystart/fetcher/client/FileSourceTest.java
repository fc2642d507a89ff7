package io.earlystart.fetcher.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.client.Sources;
import io.earlystart.overlay.format.CorruptOverlayException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The {@link SegmentSource} contract for {@link FileSource}, plus what only a local file can show. */
class FileSourceTest extends SegmentSourceContract {
  @Override
  SegmentSource source(String name) {
    return new FileSource(dir.resolve(name));
  }

  /** One reader thread serving demands first: the demand made during segment 0 comes right after it. */
  @Override
  void checkPreempted(List<Integer> order, int demanded) {
    assertEquals(List.of(0, demanded, 1), order.subList(0, 3), "arrival order");
    assertEquals(1, order.stream().filter(i -> i == demanded).count(), "the demanded segment is not streamed again");
  }

  @Test
  void sourcesMapsPathsAndUrls() throws Exception {
    Path p = dir.resolve(OVERLAY);
    for (String spec : new String[] {p.toString(), p.toUri().toString(), "file:" + p}) {
      try (SegmentSource src = Sources.open(spec)) {
        assertInstanceOf(FileSource.class, src, spec);
        assertEquals(p.toString(), src.describe());
      }
    }
    try (SegmentSource src = Sources.open("https://cdn.example.com/o/vm.esov")) {
      assertInstanceOf(HttpRangeSource.class, src);
    }
    try (SegmentSource src = Sources.open("HTTP://127.0.0.1:8080/vm.esov")) {
      assertInstanceOf(HttpRangeSource.class, src);
    }
  }

  @Test
  void aCorruptSegmentIsDeliveredAsItIsAndTheSchedulerGivesUpNamingIt() throws Exception {
    Path copy = dir.resolve("damaged-later.esov");
    Files.copy(dir.resolve(OVERLAY), copy, StandardCopyOption.REPLACE_EXISTING);
    Recorder sink = new Recorder();
    int count;
    try (SegmentSource src = new FileSource(copy); SegmentSource.Session s = src.open(sink, TIMEOUT)) {
      var seg = s.head().manifest().segments().get(5);
      count = s.head().manifest().segments().size();
      try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
        ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x55, 0x55}), seg.fileOffset(s.head().header()) + 3);
      }
      s.stream(all());
      sink.awaitAll(count);
      assertEquals(0, sink.failures.get(), "a bad segment is the scheduler's to judge, not a lost session");
      assertFalse(java.util.Arrays.equals(io.earlystart.overlay.io.Sha256.of(sink.got.get(5)), seg.sha256()));
    }
    // the scheduler fetches it again, gets the same bytes, and gives up with the segment named
    try (SegmentSource src = new FileSource(copy)) {
      io.earlystart.fetcher.SegmentScheduler sched = new io.earlystart.fetcher.SegmentScheduler(src, (sg, f) -> { },
          io.earlystart.fetcher.SchedulerOptions.DEFAULTS, new java.util.BitSet());
      try {
        sched.start();
        java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
            java.util.concurrent.ExecutionException.class,
            () -> sched.completion().get(10, java.util.concurrent.TimeUnit.SECONDS));
        assertInstanceOf(CorruptOverlayException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("segment 5"), e.getCause().getMessage());
      } finally {
        sched.close();
      }
    }
  }
}
