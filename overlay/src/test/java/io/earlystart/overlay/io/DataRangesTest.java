package io.earlystart.overlay.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Holes found with lseek, on the test's own file system, and ImageFile reading them as zeros. */
class DataRangesTest {
  static final int MIB = 1 << 20;

  @TempDir
  Path dir;

  /** 10 MiB with three written places: data at 1 MiB (4 KiB), at 5 MiB + 4 KiB (8 KiB), at the end. */
  private Path sparse() throws IOException {
    Path p = dir.resolve("sparse.img");
    Random r = new Random(7);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(10 * MIB);
      f.seek(MIB);
      f.write(random(r, 4096));
      f.seek(5 * MIB + 4096);
      f.write(random(r, 8192));
      f.seek(10 * MIB - 100);
      f.write(random(r, 100));
    }
    return p;
  }

  private static byte[] random(Random r, int n) {
    byte[] b = new byte[n];
    r.nextBytes(b);
    return b;
  }

  @Test
  void findsTheWrittenPlacesAndNothingElse() throws IOException {
    Path p = sparse();
    DataRanges d = DataRanges.of(p, Files.size(p));
    assertEquals(3, d.count(), "ranges: " + describe(d));
    assertEquals(MIB, d.start(0));
    assertEquals(MIB + 4096, d.end(0));
    assertEquals(5 * MIB + 4096, d.start(1));
    assertEquals(5 * MIB + 3 * 4096, d.end(1));
    assertEquals(10 * MIB - 4096, d.start(2));
    assertEquals(10 * MIB, d.end(2));
    assertEquals(4 * 4096, d.dataBytes());
    assertFalse(d.hasData(0, MIB));
    assertTrue(d.hasData(0, MIB + 1));
    assertTrue(d.hasData(MIB + 4095, 1));
    assertFalse(d.hasData(MIB + 4096, 4 * MIB));
    assertTrue(d.hasData(9 * MIB, MIB));
    assertFalse(d.hasData(10 * MIB, MIB), "past the end");
  }

  @Test
  void onlyThePrefixAskedForCounts() throws IOException {
    Path p = sparse();
    DataRanges d = DataRanges.of(p, 5 * MIB + 8192);
    assertEquals(2, d.count());
    assertEquals(5 * MIB + 8192, d.end(1), "cut at the size asked for");
  }

  @Test
  void holesOnlyAndEmptyFilesHaveNoRanges() throws IOException {
    Path holes = dir.resolve("holes.img");
    try (RandomAccessFile f = new RandomAccessFile(holes.toFile(), "rw")) {
      f.setLength(3 * MIB);
    }
    assertEquals(0, DataRanges.of(holes, 3 * MIB).count());
    Path empty = Files.createFile(dir.resolve("empty.img"));
    assertEquals(0, DataRanges.of(empty, 0).count());
    assertEquals(0, DataRanges.allData(0).count());
    assertTrue(DataRanges.allData(5).hasData(4, 1));
  }

  @Test
  void aDenseFileIsOneRange() throws IOException {
    Path p = dir.resolve("dense.img");
    Files.write(p, new byte[3 * MIB]); // zeros, but written: data to the file system
    DataRanges d = DataRanges.of(p, 3 * MIB);
    assertEquals(1, d.count());
    assertEquals(3 * MIB, d.dataBytes());
  }

  @Test
  void aMissingFileNamesItself() {
    Path p = dir.resolve("nope.img");
    IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> DataRanges.of(p, 1));
    assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
  }

  /** Any window, across holes, data and the end, reads what a plain read gives (zeros past the end). */
  @Test
  void imageFileReadsHolesAsZeros() throws IOException {
    Path p = sparse();
    byte[] whole = Files.readAllBytes(p);
    Random r = new Random(3);
    try (ImageFile f = ImageFile.openSparse(p, "test image"); FileChannel plain = FileChannel.open(p)) {
      assertEquals(3, f.dataRanges().count());
      for (int i = 0; i < 2000; i++) {
        long pos = i % 4 == 0 ? (long) r.nextInt(11) * MIB - r.nextInt(9000) : r.nextInt(11 * MIB);
        pos = Math.max(0, pos);
        int len = r.nextInt(3) == 0 ? r.nextInt(2 * MIB) : r.nextInt(20_000);
        byte[] got = new byte[len + 10];
        java.util.Arrays.fill(got, (byte) 0x5a); // stale bytes a hole must overwrite
        f.read(pos, got, 5, len);
        byte[] want = new byte[len + 10];
        java.util.Arrays.fill(want, (byte) 0x5a);
        java.util.Arrays.fill(want, 5, 5 + len, (byte) 0);
        int avail = (int) Math.max(0, Math.min(len, whole.length - pos));
        if (avail > 0) {
          plain.read(ByteBuffer.wrap(want, 5, avail), pos);
        }
        assertArrayEquals(want, got, "window " + pos + "+" + len);
      }
    }
  }

  /** A plain open asks nothing of the file system: every byte is data to it, and reads the same. */
  @Test
  void aPlainOpenTakesTheWholeFileAsData() throws IOException {
    Path p = sparse();
    try (ImageFile f = ImageFile.open(p, "test image")) {
      assertEquals(1, f.dataRanges().count());
      assertEquals(10 * MIB, f.dataRanges().dataBytes());
      byte[] got = new byte[3 * MIB];
      f.read(MIB - 4096, got, 0, got.length);
      assertArrayEquals(java.util.Arrays.copyOfRange(Files.readAllBytes(p), MIB - 4096, 4 * MIB - 4096), got);
    }
  }

  private static String describe(DataRanges d) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < d.count(); i++) {
      b.append('[').append(d.start(i)).append(", ").append(d.end(i)).append(") ");
    }
    return b.toString();
  }
}
