package io.earlystart.overlay.create;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.RandomPair;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.ChunkRef;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.io.Progress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Access-ordered streams: {@code create} with an {@link AccessOrder} and {@code reorder} of an existing
 * overlay put the touched chunks' payloads first, in touch order, and still synthesize the same images.
 */
class AccessOrderTest {
  private static final int CS = Manifest.CHUNK_SIZE;

  @TempDir Path dir;

  /** A seeded order touching some changed chunks of both images, interleaved by time. */
  private static Map<Long, Long> touches(Manifest m, long seed) {
    Random r = new Random(seed);
    Map<Long, Long> t = new HashMap<>();
    for (Image image : Image.values()) {
      ChunkTable table = m.table(image);
      for (int e = 0; e < table.size(); e++) {
        if (table.kind(e).hasPayload() && r.nextInt(4) == 0) {
          t.put(ChunkRef.of(image, table.chunk(e)), (long) r.nextInt(1_000_000));
        }
      }
    }
    return t;
  }

  private static AccessOrder orderOf(Map<Long, Long> t) {
    return (image, chunk) -> t.getOrDefault(ChunkRef.of(image, chunk), -1L);
  }

  /** Checks that payload ids follow the order: touched ones first by time, then untouched in offset order. */
  private static void assertStreamFollows(Manifest m, AccessOrder order) {
    long[] key = StreamOrder.keys(m, order);
    for (int p = 1; p < key.length; p++) {
      assertTrue(key[p - 1] <= key[p], "payload " + p + " streams before an earlier-touched one");
    }
    // untouched payloads keep offset order: by first use, disk before memory, ascending chunks
    java.util.BitSet seen = new java.util.BitSet();
    int last = -1;
    for (Image image : Image.values()) {
      ChunkTable t = m.table(image);
      for (int e = 0; e < t.size(); e++) {
        int id = t.arg(e);
        if (t.kind(e).hasPayload() && key[id] == Long.MAX_VALUE && !seen.get(id)) {
          seen.set(id);
          assertTrue(id > last, "untouched payload " + id + " out of offset order");
          last = id;
        }
      }
    }
  }

  @Test
  void createInAccessOrderStreamsTouchedChunksFirstAndRoundTrips() throws Exception {
    RandomPair p = RandomPair.create(dir, 3, 2 << 20, (2 << 20) + 500, 2 << 20);
    Path plain = dir.resolve("plain.overlay");
    p.createOverlay(plain, null, null, 16 << 10);
    Manifest m0;
    try (OverlayFile f = OverlayFile.open(plain)) {
      m0 = f.manifest();
    }
    Map<Long, Long> t = touches(m0, 9);
    AccessOrder order = orderOf(t);
    Path ordered = dir.resolve("ordered.overlay");
    OverlayCreator.create(CreateOptions.of(p.baseDisk, p.baseMemory, p.disk, p.memory, ordered)
        .withSegmentSize(16 << 10).withThreads(2), order, Progress.NONE);
    try (OverlayFile f = OverlayFile.open(ordered)) {
      Manifest m = f.manifest();
      assertStreamFollows(m, order);
      long[] key = StreamOrder.keys(m, order);
      assertTrue(key[0] != Long.MAX_VALUE && key[key.length - 1] == Long.MAX_VALUE, "touched first, untouched last");
      assertNotEquals(f.id(), OverlayFile.open(plain).id());
    }
    Path out = dir.resolve("out");
    p.synthesize(ordered, out);
    assertArrayEquals(Files.readAllBytes(p.disk), Files.readAllBytes(out.resolve("disk.img")));
    assertArrayEquals(Files.readAllBytes(p.memory), Files.readAllBytes(out.resolve("memory.img")));
  }

  @Test
  void reorderKeepsTheImagesAndFollowsTheNewOrder() throws Exception {
    RandomPair p = RandomPair.create(dir, 4, 1 << 20, 1 << 20, (1 << 20) + 300);
    Files.write(dir.resolve("vmstate"), "state".getBytes());
    Path plain = dir.resolve("plain.overlay");
    p.createOverlay(plain, dir.resolve("vmstate"), null, 8 << 10);
    Manifest m0;
    try (OverlayFile f = OverlayFile.open(plain)) {
      m0 = f.manifest();
    }
    AccessOrder order = orderOf(touches(m0, 11));
    Path reordered = dir.resolve("reordered.overlay");
    OverlayReorderer.Summary s = OverlayReorderer.reorder(plain, order, reordered, 8 << 10, 3, 2);
    assertTrue(s.touchedPayloads() > 0 && s.touchedPayloads() < s.payloads(), s.toString());
    try (OverlayFile f = OverlayFile.open(reordered)) {
      assertEquals(s.outputId(), f.id());
      assertStreamFollows(f.manifest(), order);
      assertEquals(m0.payloadCount(), f.manifest().payloadCount());
      for (Image image : Image.values()) {
        assertEquals(m0.table(image).size(), f.manifest().table(image).size());
        for (int e = 0; e < m0.table(image).size(); e++) {
          assertEquals(m0.table(image).kind(e), f.manifest().table(image).kind(e), "kinds stay");
        }
      }
      assertArrayEquals("state".getBytes(), f.readAttachment(f.manifest().attachment(Attachment.VMSTATE)));
    }
    Path out = dir.resolve("out");
    p.synthesize(reordered, out);
    assertArrayEquals(Files.readAllBytes(p.disk), Files.readAllBytes(out.resolve("disk.img")));
    assertArrayEquals(Files.readAllBytes(p.memory), Files.readAllBytes(out.resolve("memory.img")));
  }

  @Test
  void ranksTiesAndUntouchedInIdOrder() {
    long max = Long.MAX_VALUE;
    assertArrayEquals(new int[] {3, 0, 2, 4, 1}, StreamOrder.rank(new long[] {max, 5, 7, max, 5}));
  }
}
