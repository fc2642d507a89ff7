package io.earlystart.fetcher.server;

import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.io.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Small overlays with many 16 KiB segments, made from seeded random images. */
final class TestOverlays {
  private static final int CHUNK = 4096;

  private TestOverlays() {}

  /**
   * Writes {@code dir/NAME.overlay} from a random base disk and memory of the given sizes, in which
   * about half of the 4 KiB chunks are replaced by new random ones (incompressible: about one chunk
   * of payload per chunk changed).
   */
  static Path create(Path dir, String name, long seed, int diskSize, int memorySize) throws IOException,
      InterruptedException {
    Path work = Files.createDirectories(dir.resolve("images-" + name));
    Random r = new Random(seed);
    byte[] baseDisk = random(r, diskSize);
    byte[] baseMemory = random(r, memorySize);
    Files.write(work.resolve("base-disk.img"), baseDisk);
    Files.write(work.resolve("base-memory.img"), baseMemory);
    Files.write(work.resolve("disk.img"), changed(r, baseDisk));
    Files.write(work.resolve("memory.img"), changed(r, baseMemory));
    Path out = dir.resolve(name + ".overlay");
    OverlayCreator.create(CreateOptions.of(work.resolve("base-disk.img"), work.resolve("base-memory.img"),
        work.resolve("disk.img"), work.resolve("memory.img"), out).withSegmentSize(16 << 10).withThreads(1)
        .withLevel(1), Progress.NONE);
    return out;
  }

  private static byte[] random(Random r, int size) {
    byte[] b = new byte[size];
    r.nextBytes(b);
    return b;
  }

  private static byte[] changed(Random r, byte[] base) {
    byte[] b = base.clone();
    byte[] chunk = new byte[CHUNK];
    for (int off = 0; off + CHUNK <= b.length; off += CHUNK) {
      if (r.nextBoolean()) {
        r.nextBytes(chunk);
        System.arraycopy(chunk, 0, b, off, CHUNK);
      }
    }
    return b;
  }
}
