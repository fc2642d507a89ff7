package io.earlystart.overlay.base;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.io.Hex;
import io.earlystart.overlay.io.ImageFile;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The block-hash digest that names a base in a version-2 overlay: it is the definition in FORMAT.md
 * ({@link BlockHashReference}), it depends on the content only (a sparse image and its dense copy agree),
 * every byte and the size count, and the base index hashes no hole to get it.
 */
class BlockHashDigestTest {
  static final int MIB = 1 << 20;

  @TempDir
  Path dir;

  /**
   * Five MiB and a short last block: MiB 0 data, MiB 1 a hole, MiB 2 data in its first 64 KiB then a
   * hole, MiB 3 a hole, MiB 4 a hole but for its last 8 KiB, and the 3000-byte tail a hole.
   */
  static byte[] holey(long seed) {
    Random r = new Random(seed);
    byte[] img = new byte[5 * MIB + 3000];
    fill(r, img, 0, MIB);
    fill(r, img, 2 * MIB, 64 << 10);
    fill(r, img, 5 * MIB - 8192, 8192);
    return img;
  }

  private static void fill(Random r, byte[] img, int from, int len) {
    byte[] b = new byte[len];
    r.nextBytes(b);
    System.arraycopy(b, 0, img, from, len);
  }

  /** Writes the 4 KiB pieces of {@code img} that are not all zero; the rest stays a hole. */
  static Path writeSparse(Path p, byte[] img) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(img.length);
      for (int off = 0; off < img.length; off += 4096) {
        int n = Math.min(4096, img.length - off);
        if (!ChunkHash.isZero(img, off, n)) {
          f.seek(off);
          f.write(img, off, n);
        }
      }
    }
    return p;
  }

  static byte[] id(Path image) throws IOException {
    return BaseIndex.loadOrBuild(image, "base disk").ref().digest();
  }

  @Test
  void sparseImageHasTheIdOfItsDenseCopy() throws Exception {
    byte[] img = holey(1);
    Path sparse = writeSparse(dir.resolve("sparse.img"), img);
    Path dense = Files.write(dir.resolve("dense.img"), img); // every byte written, zeros too
    try (ImageFile f = ImageFile.openSparse(sparse, "sparse")) {
      assertTrue(f.dataRanges().dataBytes() <= MIB + (80 << 10), "the file system kept no holes: "
          + f.dataRanges().dataBytes());
    }
    BaseIndex s = BaseIndex.loadOrBuild(sparse, "base disk");
    BaseIndex d = BaseIndex.loadOrBuild(dense, "base disk");
    assertArrayEquals(BlockHashReference.of(dense), d.ref().digest(), "the dense copy's id is not the definition");
    assertArrayEquals(d.ref().digest(), s.ref().digest(), "a sparse image and its dense copy differ");
    assertEquals(d.ref(), s.ref());
    for (int i = 0; i < d.chunkCount(); i++) {
      assertEquals(d.hash(i), s.hash(i), "chunk " + i);
    }
    // all-zero blocks cost no hash either way: MiB 1 and 3 are zeros written out in the dense copy
    assertEquals(3L * MIB, d.hashedBytes());
    assertEquals(3L * MIB, s.hashedBytes());
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 4095, MIB - 1, MIB, MIB + 1, 3 * MIB, 3 * MIB + 7})
  void idIsTheDefinitionForEverySize(int size) throws Exception {
    byte[] img = new byte[size];
    new Random(size).nextBytes(img);
    if (size > 2 * MIB) {
      Arrays.fill(img, MIB, 2 * MIB, (byte) 0); // a written zero block among data blocks
    }
    Path p = Files.write(dir.resolve("img-" + size), img);
    assertEquals(Hex.of(BlockHashReference.of(p)), Hex.of(id(p)));
  }

  /** The test vectors in overlay/FORMAT.md, "Base digest". */
  @Test
  void testVectorsOfFormatMd() throws Exception {
    Path empty = Files.write(dir.resolve("empty.img"), new byte[0]);
    Path abc = Files.write(dir.resolve("abc.img"), "abc".getBytes(StandardCharsets.US_ASCII));
    Path zeros = dir.resolve("zeros.img");
    try (RandomAccessFile f = new RandomAccessFile(zeros.toFile(), "rw")) {
      f.setLength(MIB + 1); // all hole
    }
    assertEquals("af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc", Hex.of(id(empty)));
    assertEquals("e13dee54bfc1b26042c1fec4b1d8ef2054b22fa1ab1263adce665eb013f829d5", Hex.of(id(abc)));
    assertEquals("4d6821375c902731ba402a19da966ee237919ea99733236950405d3520fb9313", Hex.of(id(zeros)));
  }

  @Test
  void oneChangedByteOrTheSizeChangesTheId() throws Exception {
    byte[] img = holey(2);
    byte[] original = id(writeSparse(dir.resolve("original.img"), img));
    int[] positions = {0, MIB / 2, MIB + 77, 2 * MIB + 100, 2 * MIB + (200 << 10), 4 * MIB, 5 * MIB - 1, 5 * MIB,
        img.length - 1};
    for (int pos : positions) {
      byte[] changed = img.clone();
      changed[pos] ^= 0x01;
      Path p = writeSparse(dir.resolve("changed-" + pos + ".img"), changed);
      byte[] got = id(p);
      assertFalse(Arrays.equals(original, got), "byte " + pos + " changed, the id did not");
      assertArrayEquals(BlockHashReference.of(p), got, "byte " + pos);
    }
    // trailing zeros are content too: one more zero byte, or one fewer, is another image
    for (int size : new int[] {img.length + 1, img.length - 1, img.length + MIB}) {
      Path p = writeSparse(dir.resolve("size-" + size + ".img"), Arrays.copyOf(img, size));
      assertFalse(Arrays.equals(original, id(p)), "size " + size + " gave the id of size " + img.length);
    }
  }

  /** A 256 MiB image with 2 MiB of data: only those 2 MiB go through SHA-256, and the id is still right. */
  @Test
  void holesAreNotHashed() throws Exception {
    long size = 256L * MIB + 1000;
    Path p = dir.resolve("big-sparse.img");
    Random r = new Random(3);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(size);
      byte[] b = new byte[MIB];
      for (long at : new long[] {7L * MIB, 200L * MIB}) {
        r.nextBytes(b);
        f.seek(at);
        f.write(b);
      }
    }
    BaseIndex index = BaseIndex.loadOrBuild(p, "base disk");
    assertEquals(2L * MIB, index.hashedBytes(), "hole bytes went through SHA-256");
    assertArrayEquals(BlockHashReference.of(p), index.ref().digest());
  }

  /** A cache of the version before (ESIDX002, holding the flat SHA-256) is not taken for this one. */
  @Test
  void cacheWithTheOldDigestIsRebuilt() throws Exception {
    Path p = writeSparse(dir.resolve("cached.img"), holey(4));
    byte[] want = id(p);
    Path cache = BaseIndex.cachePath(p);
    assertTrue(BaseIndex.loadOrBuild(p, "base disk").fromCache(), "the cache written just now is not used");
    byte[] bytes = Files.readAllBytes(cache);
    assertEquals("ESIDX003", new String(bytes, 0, 8, StandardCharsets.US_ASCII));
    System.arraycopy("ESIDX002".getBytes(StandardCharsets.US_ASCII), 0, bytes, 0, 8);
    System.arraycopy(BlockHashReference.flatSha256(p), 0, bytes, 8 + 4 * 8, 32); // what ESIDX002 held there
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length - 4);
    ByteBuffer.wrap(bytes).putInt(bytes.length - 4, (int) crc.getValue());
    Files.write(cache, bytes);
    BaseIndex again = BaseIndex.loadOrBuild(p, "base disk");
    assertFalse(again.fromCache(), "an ESIDX002 cache was used");
    assertArrayEquals(want, again.ref().digest());
    assertTrue(BaseIndex.loadOrBuild(p, "base disk").fromCache(), "the rebuilt cache was not written");
  }

  /**
   * {@link BaseIndex#ref} (what the mount asks for) gives what the full index gives, from the cache when
   * it is valid: a 300 MiB sparse image, whose cache (600 KiB) takes several of ref's buffers. A digest
   * changed in the cache with its CRC fixed up is what ref then returns (it did read the cache); a byte
   * changed past the first buffer without it makes ref rebuild the index and the cache.
   */
  @Test
  void refComesFromAValidCacheWithoutLoadingItsHashes() throws Exception {
    Path p = dir.resolve("big.img");
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(300L * MIB);
      byte[] data = new byte[8192];
      new Random(7).nextBytes(data);
      f.seek(0);
      f.write(data);
      f.seek(200L * MIB);
      f.write(data);
    }
    byte[] want = BlockHashReference.of(p);
    assertArrayEquals(want, BaseIndex.ref(p, "base disk").digest(), "ref without a cache");
    Path cache = BaseIndex.cachePath(p);
    assertTrue(Files.size(cache) > 2 * (256 << 10), "the cache must take several buffers");
    assertArrayEquals(want, BaseIndex.ref(p, "base disk").digest(), "ref from the cache");
    assertEquals(300L * MIB, BaseIndex.ref(p, "base disk").size());

    byte[] bytes = Files.readAllBytes(cache);
    byte[] forged = bytes.clone();
    forged[8 + 4 * 8] ^= 1; // the digest's first byte
    CRC32C crc = new CRC32C();
    crc.update(forged, 0, forged.length - 4);
    ByteBuffer.wrap(forged).putInt(forged.length - 4, (int) crc.getValue());
    Files.write(cache, forged);
    byte[] fromCache = want.clone();
    fromCache[0] ^= 1;
    assertArrayEquals(fromCache, BaseIndex.ref(p, "base disk").digest(), "a valid cache is read, not rebuilt");

    byte[] torn = bytes.clone();
    torn[bytes.length - 100] ^= 1; // a chunk hash near the end, past the first buffer; the CRC left as it was
    Files.write(cache, torn);
    assertArrayEquals(want, BaseIndex.ref(p, "base disk").digest(), "a cache failing its CRC must not be used");
    assertArrayEquals(bytes, Files.readAllBytes(cache), "the rebuilt cache was not written again");
  }

  @Test
  void blocksMustComeWhole() {
    BlockHashDigest d = new BlockHashDigest(MIB + 10L);
    assertThrows(IllegalArgumentException.class, () -> d.zeroBlock(10));
    d.zeroBlock(MIB);
    assertThrows(IllegalStateException.class, d::digest);
    assertThrows(IllegalArgumentException.class, () -> d.block(new byte[MIB], 0, MIB));
    d.block(new byte[10], 0, 10);
    assertArrayEquals(d.digest(), digestOfZeros(MIB + 10));
  }

  private static byte[] digestOfZeros(int size) {
    BlockHashDigest d = new BlockHashDigest(size);
    for (int left = size; left > 0; left -= Math.min(MIB, left)) {
      byte[] zeros = new byte[Math.min(MIB, left)];
      d.block(zeros, 0, zeros.length);
    }
    return d.digest();
  }
}
