package io.earlystart.overlay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.CreateSummary;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.synthesize.Synthesizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Seeded random base/customised image pairs that contain every chunk kind: unchanged chunks, zeroed
 * chunks, copies of base disk and base memory chunks at other offsets, self duplicates, small in-place
 * edits (delta material) and new random chunks. Sizes need not be multiples of 4 KiB.
 */
public final class RandomPair {
  static final int CS = Manifest.CHUNK_SIZE;

  public final Path baseDisk;
  public final Path baseMemory;
  public final Path disk;
  public final Path memory;

  private RandomPair(Path dir) {
    baseDisk = dir.resolve("base-disk.img");
    baseMemory = dir.resolve("base-memory.img");
    disk = dir.resolve("disk.img");
    memory = dir.resolve("memory.img");
  }

  /** The four images named as {@link #create} names them, already in {@code dir}. */
  public static RandomPair at(Path dir) {
    return new RandomPair(dir);
  }

  public static RandomPair create(Path dir, long seed, int baseDiskSize, int diskSize, int memorySize) throws IOException {
    Random r = new Random(seed);
    RandomPair p = new RandomPair(dir);
    byte[] bd = structured(r, baseDiskSize);
    byte[] bm = structured(r, memorySize);
    byte[] d = new byte[diskSize];
    System.arraycopy(bd, 0, d, 0, Math.min(baseDiskSize, diskSize));
    byte[] m = bm.clone();
    mutate(r, d, bd, bm);
    mutate(r, m, bd, bm);
    // a chunk shared between the new disk and the new memory (self dedup across images)
    if (d.length >= CS && m.length >= CS) {
      int from = r.nextInt(d.length / CS) * CS;
      System.arraycopy(d, from, m, r.nextInt(m.length / CS) * CS, CS);
    }
    Files.write(p.baseDisk, bd);
    Files.write(p.baseMemory, bm);
    Files.write(p.disk, d);
    Files.write(p.memory, m);
    return p;
  }

  /** Half zero chunks, half compressible-ish random chunks. */
  private static byte[] structured(Random r, int size) {
    byte[] b = new byte[size];
    for (int off = 0; off < size; off += CS) {
      int n = Math.min(CS, size - off);
      int style = r.nextInt(4);
      if (style == 0) {
        continue;
      }
      for (int i = 0; i < n; i++) {
        b[off + i] = (byte) (style == 1 ? r.nextInt(256) : 'a' + r.nextInt(style * 4));
      }
    }
    return b;
  }

  private static void mutate(Random r, byte[] img, byte[] bd, byte[] bm) {
    int chunks = img.length / CS;
    if (chunks == 0) {
      if (img.length > 0) {
        img[r.nextInt(img.length)] ^= 1;
      }
      return;
    }
    int changes = 1 + chunks / 4;
    byte[] dup = null;
    for (int k = 0; k < changes; k++) {
      int at = r.nextInt(chunks) * CS;
      switch (r.nextInt(6)) {
        case 0 -> java.util.Arrays.fill(img, at, at + CS, (byte) 0);
        case 1 -> copyChunk(r, bd, img, at);
        case 2 -> copyChunk(r, bm, img, at);
        case 3 -> {
          for (int i = 0; i < 3; i++) {
            img[at + r.nextInt(CS)] ^= (byte) (1 + r.nextInt(255));
          }
        }
        case 4 -> {
          if (dup == null) {
            dup = new byte[CS];
            r.nextBytes(dup);
          }
          System.arraycopy(dup, 0, img, at, CS);
        }
        default -> {
          for (int i = 0; i < CS; i++) {
            img[at + i] = (byte) r.nextInt(r.nextBoolean() ? 256 : 8);
          }
        }
      }
    }
    // the last, partial chunk changes too
    if (img.length % CS != 0) {
      img[img.length - 1] ^= 0x5a;
    }
  }

  private static void copyChunk(Random r, byte[] from, byte[] to, int at) {
    if (from.length >= CS) {
      System.arraycopy(from, r.nextInt(from.length / CS) * CS, to, at, CS);
    }
  }

  /** Creates an overlay of this pair with the given attachments (null: none) and segment size. */
  public CreateSummary createOverlay(Path overlay, Path vmstate, Path vmConfig, int segmentSize)
      throws IOException, InterruptedException {
    return createOverlay(overlay, vmstate, vmConfig, segmentSize, true);
  }

  /** The same, with dedup on or off ({@link CreateOptions#dedup()}). */
  public CreateSummary createOverlay(Path overlay, Path vmstate, Path vmConfig, int segmentSize, boolean dedup)
      throws IOException, InterruptedException {
    return OverlayCreator.create(CreateOptions.of(baseDisk, baseMemory, disk, memory, overlay)
        .withAttachments(vmstate, vmConfig).withSegmentSize(segmentSize).withThreads(2).withDedup(dedup),
        Progress.NONE);
  }

  /** Synthesizes {@code overlay} against this pair's bases into {@code out}. */
  public void synthesize(Path overlay, Path out) throws IOException, InterruptedException {
    try (OverlayFile f = OverlayFile.open(overlay)) {
      Synthesizer.synthesize(f, baseDisk, baseMemory, out, 2, Progress.NONE);
    }
  }

  /** What the file system allocated for {@code p} (Java has no portable attribute for it). */
  public static long allocatedBytes(Path p) throws IOException, InterruptedException {
    Process stat = new ProcessBuilder("stat", "-c", "%b %B", p.toString()).redirectErrorStream(true).start();
    String[] out = new String(stat.getInputStream().readAllBytes()).trim().split(" ");
    assertEquals(0, stat.waitFor(), String.join(" ", out));
    return Long.parseLong(out[0]) * Long.parseLong(out[1]);
  }

  /** Fails unless {@code actual} exists and holds the bytes of {@code expected}. */
  public static void assertSame(Path expected, Path actual) throws IOException {
    assertTrue(Files.exists(actual), actual + " missing");
    assertArrayEquals(Files.readAllBytes(expected), Files.readAllBytes(actual), actual + " differs");
  }
}
