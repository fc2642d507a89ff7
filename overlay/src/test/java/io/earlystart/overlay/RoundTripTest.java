package io.earlystart.overlay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.base.BaseIndex;
import io.earlystart.overlay.base.BlockHashReference;
import io.earlystart.overlay.create.CreateSummary;
import io.earlystart.overlay.format.BaseDigest;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.OverlayHeader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Property: create then synthesize gives back the customised images byte for byte. */
class RoundTripTest {
  @TempDir
  Path dir;

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
  void roundTripsSeededRandomPairs(long seed) throws Exception {
    roundTrip(seed, true);
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
  void roundTripsSeededRandomPairsWithoutDedup(long seed) throws Exception {
    roundTrip(seed, false);
  }

  private void roundTrip(long seed, boolean dedup) throws Exception {
    Random r = new Random(seed * 7919);
    int cs = Manifest.CHUNK_SIZE;
    int baseDisk = cs * (1 + r.nextInt(300)) + (r.nextBoolean() ? r.nextInt(cs) : 0);
    int disk = r.nextInt(4) == 0 ? baseDisk + r.nextInt(20 * cs) - 10 * cs : baseDisk;
    disk = Math.max(1, disk);
    int memory = cs * (1 + r.nextInt(200)) + (r.nextInt(3) == 0 ? r.nextInt(cs) : 0);
    RandomPair p = RandomPair.create(dir, seed, baseDisk, disk, memory);
    Path vmstate = dir.resolve("vmstate");
    byte[] state = new byte[r.nextInt(100_000)];
    r.nextBytes(state);
    Files.write(vmstate, state);
    Path overlay = dir.resolve("x.overlay");
    CreateSummary s = p.createOverlay(overlay, vmstate, null, cs * (1 + r.nextInt(64)), dedup);
    Path out = dir.resolve("out");
    p.synthesize(overlay, out);
    RandomPair.assertSame(p.disk, out.resolve("disk.img"));
    RandomPair.assertSame(p.memory, out.resolve("memory.img"));
    RandomPair.assertSame(vmstate, out.resolve("vmstate"));
    assertFalse(Files.exists(out.resolve("vm.json")));
    assertEquals(Files.size(overlay), s.overlayBytes());
  }

  @Test
  void everyKindAppears() throws Exception {
    RandomPair p = RandomPair.create(dir, 42, 400 * 4096, 400 * 4096, 300 * 4096);
    Path overlay = dir.resolve("x.overlay");
    CreateSummary s = p.createOverlay(overlay, null, null, 1 << 20);
    for (ChunkKind k : ChunkKind.values()) {
      assertTrue(s.count(k) > 0, k + " never chosen: " + java.util.Arrays.deepToString(s.chunks()));
    }
    assertTrue(s.duplicateChunks() > 0, "no self duplicate found");
    p.synthesize(overlay, dir.resolve("out"));
    RandomPair.assertSame(p.disk, dir.resolve("out/disk.img"));
    RandomPair.assertSame(p.memory, dir.resolve("out/memory.img"));
  }

  /**
   * Dedup off changes only how the chunks that differ are stored: the same chunks differ, the same ones
   * are ZERO, none is BASE_*, every chunk with a payload has its own, and the overlay is larger.
   */
  @Test
  void withoutDedupTheSameChunksDifferButNoneIsSharedOrBase() throws Exception {
    RandomPair p = RandomPair.create(dir, 42, 400 * 4096, 400 * 4096, 300 * 4096);
    Path on = dir.resolve("dedup.overlay");
    Path off = dir.resolve("no-dedup.overlay");
    CreateSummary withDedup = p.createOverlay(on, null, null, 1 << 20, true);
    CreateSummary without = p.createOverlay(off, null, null, 1 << 20, false);
    assertTrue(withDedup.count(ChunkKind.BASE_DISK) > 0 && withDedup.count(ChunkKind.BASE_MEM) > 0
        && withDedup.duplicateChunks() > 0, "the pair has nothing to dedup: " + java.util.Arrays.deepToString(
        withDedup.chunks()));
    assertEquals(0, without.count(ChunkKind.BASE_DISK));
    assertEquals(0, without.count(ChunkKind.BASE_MEM));
    assertEquals(0, without.duplicateChunks());
    assertTrue(without.count(ChunkKind.DELTA) > 0, "no DELTA without dedup");
    assertEquals(without.count(ChunkKind.DATA) + without.count(ChunkKind.DELTA), without.payloads(),
        "payloads shared without dedup");
    assertEquals(withDedup.count(ChunkKind.ZERO), without.count(ChunkKind.ZERO));
    try (OverlayFile a = OverlayFile.open(on); OverlayFile b = OverlayFile.open(off)) {
      for (Image image : Image.values()) {
        ChunkTable x = a.manifest().table(image);
        ChunkTable y = b.manifest().table(image);
        assertEquals(x.size(), y.size(), image + ": other chunks differ");
        for (int i = 0; i < x.size(); i++) {
          assertEquals(x.chunk(i), y.chunk(i), image + " entry " + i);
          assertEquals(x.kind(i) == ChunkKind.ZERO, y.kind(i) == ChunkKind.ZERO, image + " chunk " + x.chunk(i));
        }
      }
    }
    assertTrue(without.payloadBytes() > withDedup.payloadBytes(), without.payloadBytes() + " <= "
        + withDedup.payloadBytes());
    p.synthesize(off, dir.resolve("out"));
    RandomPair.assertSame(p.disk, dir.resolve("out/disk.img"));
    RandomPair.assertSame(p.memory, dir.resolve("out/memory.img"));
  }

  @Test
  void identicalImagesMakeAnEmptyOverlay() throws Exception {
    RandomPair p = RandomPair.create(dir, 3, 50 * 4096, 50 * 4096, 20 * 4096);
    Files.copy(p.baseDisk, p.disk, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.copy(p.baseMemory, p.memory, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Path overlay = dir.resolve("x.overlay");
    CreateSummary s = p.createOverlay(overlay, null, null, 1 << 20);
    assertEquals(0, s.payloads());
    assertEquals(0, s.segments());
    p.synthesize(overlay, dir.resolve("out"));
    RandomPair.assertSame(p.disk, dir.resolve("out/disk.img"));
  }

  @Test
  void zeroChunksStayHoles() throws Exception {
    int cs = Manifest.CHUNK_SIZE;
    RandomPair p = RandomPair.create(dir, 5, 2048 * cs, 2048 * cs, 16 * cs);
    byte[] d = Files.readAllBytes(p.disk);
    java.util.Arrays.fill(d, 0, 1024 * cs, (byte) 0); // 4 MiB of zeros
    Files.write(p.disk, d);
    Path overlay = dir.resolve("x.overlay");
    p.createOverlay(overlay, null, null, 1 << 20);
    p.synthesize(overlay, dir.resolve("out"));
    Path img = dir.resolve("out/disk.img");
    RandomPair.assertSame(p.disk, img);
    long allocated = RandomPair.allocatedBytes(img);
    assertTrue(allocated <= Files.size(img) - 1024L * cs, "zero chunks were written: " + allocated + " bytes allocated");
  }

  /**
   * Holes are zeros that create does not read: images with whole MiB of holes (in both, only in the
   * customised image, only in the base) give the overlay, byte for byte, that the same images written
   * out in full give, and it synthesizes back. The base indexes are built from the sparse bases too.
   */
  @Test
  void sparseImagesMakeTheSameOverlayAsDenseOnes() throws Exception {
    int mib = 1 << 20;
    Random r = new Random(11);
    byte[] baseDisk = new byte[6 * mib];
    byte[] disk = new byte[6 * mib];
    byte[] baseMemory = new byte[2 * mib];
    byte[] memory = new byte[2 * mib];
    fillHalf(r, baseDisk, 0, mib); // MiB 0: data in the base, a few chunks changed below
    fillHalf(r, baseDisk, 2 * mib, mib); // MiB 2: data in the base, a hole in the customised disk
    System.arraycopy(baseDisk, 0, disk, 0, mib);
    fillHalf(r, disk, 4096 * 7, 4096 * 3);
    fillHalf(r, disk, mib, mib); // MiB 1: new data over a hole of the base
    System.arraycopy(baseDisk, 2 * mib + 8192, disk, 5 * mib, 4096); // a base chunk moved into a hole
    fillHalf(r, baseMemory, 0, mib); // MiB 1 of memory: a hole in both
    System.arraycopy(baseMemory, 0, memory, 0, mib);
    fillHalf(r, memory, 12 * 4096, 4096);
    Path dense = Files.createDirectories(dir.resolve("dense"));
    Path sparse = Files.createDirectories(dir.resolve("sparse"));
    String[] names = {"base-disk.img", "disk.img", "base-memory.img", "memory.img"};
    byte[][] images = {baseDisk, disk, baseMemory, memory};
    for (int i = 0; i < names.length; i++) {
      Files.write(dense.resolve(names[i]), images[i]);
      writeSparse(sparse.resolve(names[i]), images[i]);
    }
    try (io.earlystart.overlay.io.ImageFile f = io.earlystart.overlay.io.ImageFile.openSparse(sparse.resolve("disk.img"), "disk")) {
      assertTrue(f.dataRanges().dataBytes() <= 2 * mib + 4096, "the file system kept no holes: " + f.dataRanges().dataBytes());
    }
    RandomPair d = RandomPair.at(dense);
    RandomPair s = RandomPair.at(sparse);
    CreateSummary fromDense = d.createOverlay(dense.resolve("x.overlay"), null, null, 256 * 1024);
    CreateSummary fromSparse = s.createOverlay(sparse.resolve("x.overlay"), null, null, 256 * 1024);
    assertTrue(fromSparse.count(ChunkKind.ZERO) >= 128, "MiB 2 of the disk is ZERO: " + fromSparse.count(ChunkKind.ZERO));
    assertTrue(fromSparse.count(ChunkKind.BASE_DISK) >= 1, "the moved base chunk");
    assertTrue(java.util.Arrays.equals(Files.readAllBytes(dense.resolve("x.overlay")),
        Files.readAllBytes(sparse.resolve("x.overlay"))), "sparse and dense inputs made different overlays");
    try (OverlayFile f = OverlayFile.open(sparse.resolve("x.overlay"))) { // so the bases' ids are the same too
      assertEquals(OverlayHeader.CURRENT_VERSION, f.header().version());
      assertEquals(BaseDigest.BLOCK_HASH, f.header().baseDigest());
      assertArrayEquals(BlockHashReference.of(dense.resolve("base-disk.img")), f.manifest().base(Image.DISK).digest());
    }
    assertEquals(fromDense.payloads(), fromSparse.payloads());
    s.synthesize(sparse.resolve("x.overlay"), dir.resolve("out"));
    RandomPair.assertSame(dense.resolve("disk.img"), dir.resolve("out/disk.img"));
    RandomPair.assertSame(dense.resolve("memory.img"), dir.resolve("out/memory.img"));
    // the synthesized images keep zero chunks as holes, yet as bases they have the customised images' ids
    for (String name : new String[] {"disk.img", "memory.img"}) {
      assertEquals(BaseIndex.loadOrBuild(dense.resolve(name), name).ref(),
          BaseIndex.loadOrBuild(dir.resolve("out").resolve(name), name).ref(), name);
    }
  }

  /** Random bytes in every other 4 KiB chunk of {@code [from, from + len)} (the rest zero). */
  private static void fillHalf(Random r, byte[] img, int from, int len) {
    for (int c = from; c < from + len; c += 8192) {
      byte[] chunk = new byte[Math.min(4096, from + len - c)];
      r.nextBytes(chunk);
      System.arraycopy(chunk, 0, img, c, chunk.length);
    }
  }

  /** Writes only the chunks that are not all zero: the rest stays a hole. */
  private static void writeSparse(Path p, byte[] img) throws java.io.IOException {
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(img.length);
      for (int off = 0; off < img.length; off += 4096) {
        int n = Math.min(4096, img.length - off);
        boolean zero = true;
        for (int i = off; i < off + n && zero; i++) {
          zero = img[i] == 0;
        }
        if (!zero) {
          f.seek(off);
          f.write(img, off, n);
        }
      }
    }
  }
}
