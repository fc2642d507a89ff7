package io.earlystart.overlay;

import static io.earlystart.overlay.ChunkKindsTest.CS;
import static io.earlystart.overlay.ChunkKindsTest.describe;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.ChunkKindsTest.Images;
import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.CreateSummary;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.synthesize.Synthesizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code create} with dedup off ({@link CreateOptions#withDedup}): one small pair holding a copy of a base
 * chunk from another offset (in the same image and across images), equal new chunks (in the same image
 * and across images) and zeroed chunks, made into an overlay with dedup and one without. With dedup the
 * copies are BASE_* and the equal chunks share a payload; without, neither, while ZERO and the unchanged
 * chunks stay as they were and both overlays synthesize the customised images.
 */
class DedupOffTest {
  @TempDir
  Path dir;

  /** The pair; base disk chunk 5 is base disk chunk 3 with a 3-byte edit, so its copy at 3 is delta material. */
  static Images pair() {
    Images im = new Images();
    byte[] near = im.baseChunk(Image.DISK, 3);
    near[10] ^= 0x20;
    near[2000] = '!';
    near[4000] ^= 0x01;
    System.arraycopy(near, 0, im.base[0], 5 * CS, CS);
    im.put(Image.DISK, 5, near); // unchanged
    byte[] fresh = ChunkKindsTest.randomChunk(7);
    im.put(Image.DISK, 1, fresh); // (b) equal new chunks: disk 1, disk 4, memory 6
    im.put(Image.DISK, 4, fresh);
    im.put(Image.MEMORY, 6, fresh);
    im.put(Image.DISK, 2, new byte[CS]); // (c) zeroed chunks
    im.put(Image.MEMORY, 3, new byte[CS]);
    im.put(Image.DISK, 3, im.baseChunk(Image.DISK, 5)); // (a) copies of base chunks at other offsets
    im.put(Image.DISK, 7, im.baseChunk(Image.MEMORY, 2));
    im.put(Image.MEMORY, 1, im.baseChunk(Image.DISK, 6)); // a memory chunk found in the base disk
    return im;
  }

  record Made(CreateSummary summary, Manifest manifest) {}

  /** Creates the overlay of {@code im} into a directory of its own, checks the round trip. */
  Made create(Images im, boolean dedup) throws IOException, InterruptedException {
    Path d = Files.createDirectories(dir.resolve(dedup ? "dedup" : "no-dedup"));
    Path baseDisk = Files.write(d.resolve("base-disk.img"), im.base[0]);
    Path baseMemory = Files.write(d.resolve("base-memory.img"), im.base[1]);
    Path disk = Files.write(d.resolve("disk.img"), im.custom[0]);
    Path memory = Files.write(d.resolve("memory.img"), im.custom[1]);
    Path overlay = d.resolve("x.overlay");
    CreateSummary s = OverlayCreator.create(CreateOptions.of(baseDisk, baseMemory, disk, memory, overlay)
        .withThreads(1).withDedup(dedup), Progress.NONE);
    Path out = d.resolve("out");
    try (OverlayFile f = OverlayFile.open(overlay)) {
      Synthesizer.synthesize(f, baseDisk, baseMemory, out, 2, Progress.NONE);
      RandomPair.assertSame(disk, out.resolve(Image.DISK.fileName));
      RandomPair.assertSame(memory, out.resolve(Image.MEMORY.fileName));
      return new Made(s, f.manifest());
    }
  }

  @Test
  void withDedupCopiesAreBaseAndEqualChunksShareAPayload() throws Exception {
    Made m = create(pair(), true);
    assertEquals("[1:DATA(0), 2:ZERO(0), 3:BASE_DISK(5), 4:DATA(0), 7:BASE_MEM(2)]",
        describe(m.manifest().table(Image.DISK)));
    assertEquals("[1:BASE_DISK(6), 3:ZERO(0), 6:DATA(0)]", describe(m.manifest().table(Image.MEMORY)));
    assertEquals(1, m.manifest().payloadCount());
    assertEquals(2, m.summary().duplicateChunks());
    assertTrue(m.summary().dedup());
  }

  @Test
  void withoutDedupNoChunkIsBaseAndNoPayloadIsShared() throws Exception {
    Made m = create(pair(), false);
    ChunkTable disk = m.manifest().table(Image.DISK);
    ChunkTable memory = m.manifest().table(Image.MEMORY);
    String tables = describe(disk) + " " + describe(memory);
    assertEquals(0, m.summary().count(ChunkKind.BASE_DISK) + m.summary().count(ChunkKind.BASE_MEM), tables);
    assertEquals(2, m.summary().count(ChunkKind.ZERO), tables);
    assertEquals("[1, 2, 3, 4, 7]", chunks(disk), "the same chunks differ from the base: " + tables);
    assertEquals("[1, 3, 6]", chunks(memory), tables);
    assertEquals(ChunkKind.ZERO, disk.kind(1), tables);
    assertEquals(ChunkKind.ZERO, memory.kind(1), tables);
    // the former copy of base disk chunk 5 is a near copy of its own offset's base chunk: a DELTA as usual
    assertEquals(ChunkKind.DELTA, disk.kind(2), tables);
    Set<Integer> payloads = new HashSet<>();
    int withPayload = 0;
    for (ChunkTable t : new ChunkTable[] {disk, memory}) {
      for (int i = 0; i < t.size(); i++) {
        if (t.kind(i).hasPayload()) {
          withPayload++;
          assertTrue(payloads.add(t.arg(i)), "payload " + t.arg(i) + " shared: " + tables);
        }
      }
    }
    assertEquals(6, withPayload, tables);
    assertEquals(6, m.manifest().payloadCount(), tables);
    assertEquals(0, m.summary().duplicateChunks());
    assertFalse(m.summary().dedup());
  }

  private static String chunks(ChunkTable t) {
    StringBuilder s = new StringBuilder("[");
    for (int i = 0; i < t.size(); i++) {
      s.append(i == 0 ? "" : ", ").append(t.chunk(i));
    }
    return s.append(']').toString();
  }
}
