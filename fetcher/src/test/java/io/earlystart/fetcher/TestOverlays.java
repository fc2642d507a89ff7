package io.earlystart.fetcher;

import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.io.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.UnaryOperator;

/** Small overlays with many segments, made from seeded random images, for fetcher tests. */
public final class TestOverlays {
  private static final int CHUNK = 4096;

  private TestOverlays() {}

  /**
   * Base and customised images of {@code chunks} 4 KiB chunks with about a third changed (to
   * compressible bytes), and a vmstate attachment, in {@code dir}; returns {@code dir/test.overlay}.
   */
  public static Path make(Path dir, long seed, int chunks, int segmentSize) throws IOException, InterruptedException {
    Random r = new Random(seed);
    byte[] base = new byte[chunks * CHUNK];
    r.nextBytes(base);
    byte[] custom = base.clone();
    for (int c = 0; c < chunks; c++) {
      if (r.nextInt(3) == 0) {
        for (int i = 0; i < CHUNK; i++) {
          custom[c * CHUNK + i] = (byte) r.nextInt(16);
        }
      }
    }
    Files.write(dir.resolve("vmstate"), "device state".getBytes());
    return create(dir, base, base, custom, custom, dir.resolve("test.overlay"),
        o -> o.withAttachments(dir.resolve("vmstate"), null).withSegmentSize(segmentSize));
  }

  /**
   * Writes {@code dir/NAME.overlay} (16 KiB segments) from a random base disk and memory of the given
   * sizes, in which about half of the 4 KiB chunks are replaced by new random ones (incompressible:
   * about one chunk of payload per chunk changed); the images go to {@code dir/images-NAME}.
   */
  public static Path create(Path dir, String name, long seed, int diskSize, int memorySize) throws IOException,
      InterruptedException {
    Path work = Files.createDirectories(dir.resolve("images-" + name));
    Random r = new Random(seed);
    byte[] baseDisk = random(r, diskSize);
    byte[] baseMemory = random(r, memorySize);
    byte[] disk = changed(r, baseDisk);
    byte[] memory = changed(r, baseMemory);
    return create(work, baseDisk, baseMemory, disk, memory, dir.resolve(name + ".overlay"),
        o -> o.withSegmentSize(16 << 10).withLevel(1));
  }

  /** Writes the four images into {@code work} and creates {@code out} from them, on one thread. */
  private static Path create(Path work, byte[] baseDisk, byte[] baseMemory, byte[] disk, byte[] memory, Path out,
      UnaryOperator<CreateOptions> options) throws IOException, InterruptedException {
    Files.write(work.resolve("base-disk.img"), baseDisk);
    Files.write(work.resolve("base-memory.img"), baseMemory);
    Files.write(work.resolve("disk.img"), disk);
    Files.write(work.resolve("memory.img"), memory);
    CreateOptions o = CreateOptions.of(work.resolve("base-disk.img"), work.resolve("base-memory.img"),
        work.resolve("disk.img"), work.resolve("memory.img"), out);
    OverlayCreator.create(options.apply(o).withThreads(1), Progress.NONE);
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
