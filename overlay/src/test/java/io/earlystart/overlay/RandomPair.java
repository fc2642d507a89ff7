package io.earlystart.overlay;

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
}
