package io.earlystart.fetcher;

import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.io.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Small seeded overlays with many segments, for fetcher tests. */
public final class TestOverlays {
  private TestOverlays() {}

  /** Base and customised images of {@code chunks} 4 KiB chunks with a third changed; returns the overlay. */
  public static Path make(Path dir, long seed, int chunks, int segmentSize) throws IOException, InterruptedException {
    Random r = new Random(seed);
    byte[] base = new byte[chunks * 4096];
    r.nextBytes(base);
    byte[] custom = base.clone();
    for (int c = 0; c < chunks; c++) {
      if (r.nextInt(3) == 0) {
        for (int i = 0; i < 4096; i++) {
          custom[c * 4096 + i] = (byte) r.nextInt(16);
        }
      }
    }
    Files.write(dir.resolve("base-disk.img"), base);
    Files.write(dir.resolve("base-memory.img"), base);
    Files.write(dir.resolve("disk.img"), custom);
    Files.write(dir.resolve("memory.img"), custom);
    Files.write(dir.resolve("vmstate"), "device state".getBytes());
    Path out = dir.resolve("test.overlay");
    OverlayCreator.create(CreateOptions.of(dir.resolve("base-disk.img"), dir.resolve("base-memory.img"),
        dir.resolve("disk.img"), dir.resolve("memory.img"), out).withAttachments(dir.resolve("vmstate"), null)
        .withSegmentSize(segmentSize).withThreads(1), Progress.NONE);
    return out;
  }
}
