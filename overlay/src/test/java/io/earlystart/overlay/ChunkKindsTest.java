package io.earlystart.overlay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.base.ChunkHash;
import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.synthesize.Synthesizer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * One test per chunk kind: tiny base/customised pairs in which exactly one chunk differs, checked for
 * the kind {@code create} records and for a byte-exact round trip. Also the guard that a hash match
 * alone never makes a chunk BASE_* or a self duplicate: bytes are compared (forged hash collisions).
 */
class ChunkKindsTest {
  static final int CS = Manifest.CHUNK_SIZE;
  static final int CHUNKS = 8;
  /** The chunk every single-change test changes. */
  static final int AT = 3;

  @TempDir
  Path dir;

  /** Base and customised images in memory; {@link #create} writes them out. */
  static final class Images {
    final byte[][] base = {texts(1), texts(2)};
    final byte[][] custom = {base[0].clone(), base[1].clone()};

    static byte[] texts(long seed) {
      Random r = new Random(seed);
      byte[] b = new byte[CHUNKS * CS];
      for (int c = 0; c < CHUNKS; c++) {
        System.arraycopy(textChunk(r), 0, b, c * CS, CS);
      }
      return b;
    }

    byte[] baseChunk(Image image, int chunk) {
      return Arrays.copyOfRange(base[image.ordinal()], chunk * CS, (chunk + 1) * CS);
    }

    void put(Image image, int chunk, byte[] bytes) {
      System.arraycopy(bytes, 0, custom[image.ordinal()], chunk * CS, CS);
    }
  }

  /** Compressible but not trivial: words of a 16-letter alphabet, about 4 bits of entropy a byte. */
  static byte[] textChunk(Random r) {
    byte[] b = new byte[CS];
    for (int i = 0; i < CS; i++) {
      b[i] = (byte) (r.nextInt(7) == 0 ? ' ' : 'a' + r.nextInt(16));
    }
    return b;
  }

  static byte[] randomChunk(long seed) {
    byte[] b = new byte[CS];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Writes the pair, creates the overlay, checks that synthesize gives back the customised images. */
  Manifest create(Images im) throws IOException, InterruptedException {
    Path baseDisk = write("base-disk.img", im.base[0]);
    Path baseMemory = write("base-memory.img", im.base[1]);
    Path disk = write("disk.img", im.custom[0]);
    Path memory = write("memory.img", im.custom[1]);
    Path overlay = dir.resolve("x.overlay");
    OverlayCreator.create(CreateOptions.of(baseDisk, baseMemory, disk, memory, overlay).withThreads(1), Progress.NONE);
    Path out = dir.resolve("out");
    try (OverlayFile f = OverlayFile.open(overlay)) {
      Synthesizer.synthesize(f, baseDisk, baseMemory, out, 2, Progress.NONE);
      RandomPair.assertSame(disk, out.resolve(Image.DISK.fileName));
      RandomPair.assertSame(memory, out.resolve(Image.MEMORY.fileName));
      return f.manifest();
    }
  }

  private Path write(String name, byte[] bytes) throws IOException {
    return Files.write(dir.resolve(name), bytes);
  }

  /** Asserts that {@code image}'s table is exactly one entry, at {@link #AT}, of {@code kind}; returns its arg. */
  static int onlyEntry(Manifest m, Image image, ChunkKind kind) {
    ChunkTable t = m.table(image);
    assertEquals(1, t.size(), image + " table: " + describe(t));
    assertEquals(AT, t.chunk(0), image + " table: " + describe(t));
    assertEquals(kind, t.kind(0), image + " table: " + describe(t));
    Image other = image == Image.DISK ? Image.MEMORY : Image.DISK;
    assertEquals(0, m.table(other).size(), other + " table: " + describe(m.table(other)));
    return t.arg(0);
  }

  static String describe(ChunkTable t) {
    StringBuilder s = new StringBuilder("[");
    for (int i = 0; i < t.size(); i++) {
      s.append(i == 0 ? "" : ", ").append(t.chunk(i)).append(':').append(t.kind(i)).append('(').append(t.arg(i))
          .append(')');
    }
    return s.append(']').toString();
  }

  @ParameterizedTest
  @EnumSource(Image.class)
  void zeroedChunkIsZero(Image image) throws Exception {
    Images im = new Images();
    im.put(image, AT, new byte[CS]);
    Manifest m = create(im);
    onlyEntry(m, image, ChunkKind.ZERO);
    assertEquals(0, m.payloadCount());
    assertEquals(0, m.segments().size());
  }

  @ParameterizedTest
  @EnumSource(Image.class)
  void copyOfABaseDiskChunkIsBaseDisk(Image image) throws Exception {
    Images im = new Images();
    im.put(image, AT, im.baseChunk(Image.DISK, 5));
    Manifest m = create(im);
    assertEquals(5, onlyEntry(m, image, ChunkKind.BASE_DISK));
    assertEquals(0, m.payloadCount());
  }

  @ParameterizedTest
  @EnumSource(Image.class)
  void copyOfABaseMemoryChunkIsBaseMem(Image image) throws Exception {
    Images im = new Images();
    im.put(image, AT, im.baseChunk(Image.MEMORY, 6));
    Manifest m = create(im);
    assertEquals(6, onlyEntry(m, image, ChunkKind.BASE_MEM));
    assertEquals(0, m.payloadCount());
  }

  @ParameterizedTest
  @EnumSource(Image.class)
  void newBytesAreData(Image image) throws Exception {
    Images im = new Images();
    im.put(image, AT, randomChunk(99));
    Manifest m = create(im);
    assertEquals(0, onlyEntry(m, image, ChunkKind.DATA));
    assertEquals(1, m.payloadCount());
  }

  @ParameterizedTest
  @EnumSource(Image.class)
  void smallEditIsDelta(Image image) throws Exception {
    Images im = new Images();
    byte[] edited = im.baseChunk(image, AT);
    edited[10] ^= 0x20;
    edited[2000] = '!';
    edited[4000] ^= 0x01;
    im.put(image, AT, edited);
    Manifest m = create(im);
    assertEquals(0, onlyEntry(m, image, ChunkKind.DELTA));
    assertEquals(1, m.payloadCount());
    Segment s = m.segments().get(0);
    assertTrue(s.rawLength() < 200, "a 3-byte edit should cost a few dozen bytes, the segment body has "
        + s.rawLength());
  }

  @Test
  void equalNewChunksShareOnePayload() throws Exception {
    Images im = new Images();
    byte[] fresh = randomChunk(7);
    im.put(Image.DISK, 2, fresh);
    im.put(Image.DISK, 6, fresh);
    im.put(Image.MEMORY, 4, fresh);
    Manifest m = create(im);
    assertEquals(1, m.payloadCount(), "three equal new chunks must be stored once");
    ChunkTable disk = m.table(Image.DISK);
    ChunkTable memory = m.table(Image.MEMORY);
    assertEquals("[2:DATA(0), 6:DATA(0)]", describe(disk));
    assertEquals("[4:DATA(0)]", describe(memory));
  }

  @Test
  void changedShortLastChunkIsDataNeverDelta() throws Exception {
    Images im = new Images();
    int size = (CHUNKS - 1) * CS + 1000;
    im.base[0] = Arrays.copyOf(im.base[0], size);
    im.custom[0] = im.base[0].clone();
    im.custom[0][size - 2] ^= 0x10; // delta material, but the chunk is short
    Manifest m = create(im);
    assertEquals("[7:DATA(0)]", describe(m.table(Image.DISK)));
  }

  /**
   * The scanner finds BASE_* candidates by a 64-bit hash; here a customised chunk has the same hash as a
   * base chunk but other bytes. It must not be recorded as a copy of that base chunk.
   */
  @ParameterizedTest
  @EnumSource(Image.class)
  void hashMatchWithOtherBytesIsNotBase(Image baseImage) throws Exception {
    Images im = new Images();
    byte[] original = im.baseChunk(baseImage, 5);
    byte[] forged = forgeCollision(original, 17);
    im.put(Image.DISK, AT, forged);
    Manifest m = create(im);
    ChunkTable t = m.table(Image.DISK);
    assertEquals(1, t.size(), describe(t));
    assertTrue(t.kind(0).hasPayload(), "a chunk that only hashes like base chunk 5 was recorded as " + describe(t));

    // control: the genuine copy is found through the same hash
    im.put(Image.DISK, AT, original);
    Files.delete(dir.resolve("x.overlay"));
    Manifest control = create(im);
    assertEquals(baseImage == Image.DISK ? ChunkKind.BASE_DISK : ChunkKind.BASE_MEM,
        control.table(Image.DISK).kind(0));
  }

  /** Self dedup also goes by hash first; two new chunks with one hash and different bytes are two payloads. */
  @Test
  void hashMatchBetweenNewChunksIsNotADuplicate() throws Exception {
    Images im = new Images();
    byte[] a = randomChunk(31);
    byte[] b = forgeCollision(a, 2);
    im.put(Image.DISK, 2, a);
    im.put(Image.DISK, 6, b);
    im.put(Image.MEMORY, 4, a); // a real duplicate, for contrast
    Manifest m = create(im);
    assertEquals(2, m.payloadCount(), describe(m.table(Image.DISK)) + " " + describe(m.table(Image.MEMORY)));
    ChunkTable disk = m.table(Image.DISK);
    assertNotEquals(disk.arg(0), disk.arg(1), describe(disk));
    assertEquals(disk.arg(0), m.table(Image.MEMORY).arg(0));
  }

  // ---- forging ChunkHash collisions --------------------------------------------------------------

  private static final long P1 = 0x9E3779B185EBCA87L;
  private static final long P2 = 0xC2B2AE3D27D4EB4FL;

  /**
   * A chunk with other bytes but the same {@link ChunkHash} as {@code chunk}: ChunkHash's lane rounds are
   * invertible, so after changing the word of lane 0 at round {@code round}, the word of the next round of
   * that lane can be solved to bring the lane back to its old state. Depends on ChunkHash's round function.
   */
  static byte[] forgeCollision(byte[] chunk, int round) {
    ByteBuffer in = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN);
    long acc = P1 + P2; // lane 0's initial state
    for (int k = 0; k < round; k++) {
      acc = round(acc, in.getLong(32 * k));
    }
    long target = round(round(acc, in.getLong(32 * round)), in.getLong(32 * (round + 1)));
    long changed = in.getLong(32 * round) ^ 0x5A5A_0000_0000_0001L;
    long accChanged = round(acc, changed);
    long solved = (Long.rotateRight(target * inverse(P1), 31) - accChanged) * inverse(P2);
    byte[] forged = chunk.clone();
    ByteBuffer out = ByteBuffer.wrap(forged).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(32 * round, changed).putLong(32 * (round + 1), solved);
    assertTrue(!Arrays.equals(chunk, forged));
    assertEquals(ChunkHash.hash(chunk, 0, CS), ChunkHash.hash(forged, 0, CS),
        "forged chunk does not collide: ChunkHash's round function changed, update forgeCollision");
    return forged;
  }

  private static long round(long acc, long input) {
    return Long.rotateLeft(acc + input * P2, 31) * P1;
  }

  /** Multiplicative inverse of an odd number modulo 2^64 (Newton's iteration). */
  private static long inverse(long odd) {
    long x = odd;
    for (int i = 0; i < 5; i++) {
      x *= 2 - odd * x;
    }
    return x;
  }
}
