package io.earlystart.overlay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.create.CreateSummary;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.Manifest;
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
    CreateSummary s = p.createOverlay(overlay, vmstate, null, cs * (1 + r.nextInt(64)));
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

}
