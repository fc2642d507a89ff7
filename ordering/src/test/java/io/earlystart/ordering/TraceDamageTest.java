package io.earlystart.ordering;

import static io.earlystart.ordering.TraceFormat.HEADER_BYTES;
import static io.earlystart.ordering.TraceFormat.RECORD_BYTES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.format.Image;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Torn, zero-padded, damaged and foreign files. */
class TraceDamageTest {
  @TempDir Path dir;

  /** Writes 30 touches with a mark after the tenth, then a touch or a mark; returns record end offsets. */
  private List<Long> write(Path file, boolean endWithMark) throws IOException {
    List<Long> ends = new ArrayList<>();
    long end = HEADER_BYTES;
    try (TraceWriter w = TraceWriter.create(file, TraceRoundTripTest.ID)) {
      for (int i = 0; i < 30; i++) {
        w.touch(i * 3L, i % 2 == 0 ? Image.DISK : Image.MEMORY, 100 + i);
        ends.add(end += RECORD_BYTES);
        if (i == 10) {
          w.mark(31, "first-response");
          ends.add(end += RECORD_BYTES + "first-response".length());
        }
      }
      if (endWithMark) {
        w.mark(90, "boot-done");
        ends.add(end += RECORD_BYTES + "boot-done".length());
      } else {
        w.touch(90, Image.MEMORY, 7);
        ends.add(end += RECORD_BYTES);
      }
    }
    assertEquals(end, Files.size(file));
    return ends;
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void tornAtEveryByteReadsTheWholeRecordsBefore(boolean endWithMark) throws IOException {
    Path file = dir.resolve("t.trace");
    List<Long> ends = write(file, endWithMark);
    byte[] whole = Files.readAllBytes(file);
    Path cut = dir.resolve("cut.trace");
    for (int length = HEADER_BYTES; length <= whole.length; length++) {
      Files.write(cut, Arrays.copyOf(whole, length));
      Trace trace = Trace.read(cut);
      int records = 0;
      long lastEnd = HEADER_BYTES;
      for (long end : ends) {
        if (end <= length) {
          records++;
          lastEnd = end;
        }
      }
      boolean firstResponse = records > 11;
      int touches = records - (firstResponse ? 1 : 0) - (endWithMark && records == ends.size() ? 1 : 0);
      assertEquals(touches, trace.size(), "cut at " + length);
      assertEquals(length - lastEnd, trace.ignoredTailBytes(), "cut at " + length);
      assertEquals(firstResponse ? 31 : -1, trace.mark("first-response"), "cut at " + length);
      assertEquals(endWithMark && length == whole.length ? 90 : -1, trace.mark("boot-done"));
      for (int i = 0; i < touches && i < 30; i++) {
        assertEquals(100 + i, trace.chunk(i));
      }
    }
  }

  @Test
  void zeroTailIsIgnored() throws IOException {
    Path file = dir.resolve("z.trace");
    write(file, true);
    long size = Files.size(file);
    Files.write(file, new byte[100_000], StandardOpenOption.APPEND); // crosses the read window
    Trace trace = Trace.read(file);
    assertEquals(30, trace.size());
    assertEquals(90, trace.mark("boot-done"));
    assertEquals(100_000, trace.ignoredTailBytes());
    assertEquals(size + 100_000, Files.size(file));
  }

  @ParameterizedTest
  @ValueSource(ints = {5, 11}) // record 5 is a touch, record 11 the mark "first-response"
  void everyFlippedByteOfAMiddleRecordIsRejectedAtItsOffset(int record) throws IOException {
    Path file = dir.resolve("f.trace");
    List<Long> ends = write(file, true);
    byte[] whole = Files.readAllBytes(file);
    long start = ends.get(record - 1);
    for (long at = start; at < ends.get(record); at++) {
      for (int bit : new int[] {0x01, 0x80}) {
        byte[] bad = whole.clone();
        bad[(int) at] ^= bit;
        Files.write(file, bad);
        CorruptTraceException e = assertThrows(CorruptTraceException.class, () -> Trace.read(file),
            "flip 0x" + Integer.toHexString(bit) + " at " + at);
        assertEquals(start, e.offset());
        assertTrue(e.getMessage().contains(file + " at offset " + start), e.getMessage());
      }
    }
  }

  @Test
  void randomGarbageInTheMiddleIsRejectedAtItsOffset() throws IOException {
    Path file = dir.resolve("g.trace");
    List<Long> ends = write(file, false);
    byte[] whole = Files.readAllBytes(file);
    Random r = new Random(7);
    // Records whose start leaves room for the longest mark: garbage read as a mark's length byte
    // must not reach the end of the file, where it would pass for a torn record (see the README).
    int candidates = 0;
    while (ends.get(candidates) + RECORD_BYTES + TraceFormat.MAX_LABEL_BYTES < whole.length) {
      candidates++;
    }
    for (int trial = 0; trial < 2_000; trial++) {
      int at = (int) (long) ends.get(r.nextInt(candidates));
      byte[] bad = whole.clone();
      byte[] garbage = new byte[1 + r.nextInt(RECORD_BYTES)];
      do {
        r.nextBytes(garbage);
      } while (Arrays.equals(garbage, 0, garbage.length, whole, at, at + garbage.length));
      System.arraycopy(garbage, 0, bad, at, garbage.length);
      Files.write(file, bad);
      CorruptTraceException e = assertThrows(CorruptTraceException.class, () -> Trace.read(file), "trial " + trial);
      assertEquals(at, e.offset(), "trial " + trial);
    }
  }

  @Test
  void zerosOrInsertedBytesInTheMiddleAreRejected() throws IOException {
    Path file = dir.resolve("i.trace");
    List<Long> ends = write(file, false);
    byte[] whole = Files.readAllBytes(file);
    int at = (int) (long) ends.get(3);
    byte[] zeroed = whole.clone();
    Arrays.fill(zeroed, at, at + 3 * RECORD_BYTES, (byte) 0);
    Files.write(file, zeroed);
    CorruptTraceException e = assertThrows(CorruptTraceException.class, () -> Trace.read(file));
    assertEquals(at, e.offset());
    assertTrue(e.getMessage().contains("unknown record kind 0x00"), e.getMessage());

    ByteBuffer inserted = ByteBuffer.allocate(whole.length + 3);
    inserted.put(whole, 0, at).put("abc".getBytes(StandardCharsets.US_ASCII)).put(whole, at, whole.length - at);
    Files.write(file, inserted.array());
    assertEquals(at, assertThrows(CorruptTraceException.class, () -> Trace.read(file)).offset());
  }

  @Test
  void notATrace() throws IOException {
    Path file = dir.resolve("n.trace");
    Files.write(file, new byte[0]);
    CorruptTraceException e = assertThrows(CorruptTraceException.class, () -> Trace.read(file));
    assertTrue(e.getMessage().contains("shorter than the 64-byte header"), e.getMessage());
    Files.write(file, new byte[HEADER_BYTES - 1]);
    assertThrows(CorruptTraceException.class, () -> Trace.read(file));
    Files.writeString(file, "this is a text file, not a trace; it is long enough to hold a header, though");
    e = assertThrows(CorruptTraceException.class, () -> Trace.read(file));
    assertEquals(0, e.offset());
    assertTrue(e.getMessage().contains("bad magic"), e.getMessage());
  }

  @Test
  void damagedHeaders() throws IOException {
    Path file = dir.resolve("h.trace");
    write(file, false);
    byte[] whole = Files.readAllBytes(file);

    byte[] crc = whole.clone();
    crc[TraceFormat.OFF_START + 3] ^= 1;
    assertEquals(TraceFormat.OFF_CRC, rejected(file, crc).offset());

    byte[] flags = withHeader(whole, TraceFormat.OFF_FLAGS, (short) 1);
    assertEquals(TraceFormat.OFF_FLAGS, rejected(file, flags).offset());

    byte[] chunkSize = whole.clone();
    ByteBuffer.wrap(chunkSize).putInt(TraceFormat.OFF_CHUNK_SIZE, 8192);
    ByteBuffer.wrap(chunkSize).putInt(TraceFormat.OFF_CRC, TraceFormat.crc(chunkSize));
    assertEquals(TraceFormat.OFF_CHUNK_SIZE, rejected(file, chunkSize).offset());
  }

  @Test
  void unsupportedVersions() throws IOException {
    Path file = dir.resolve("v.trace");
    write(file, false);
    byte[] whole = Files.readAllBytes(file);
    Files.write(file, withHeader(whole, TraceFormat.OFF_VERSION, (short) 2));
    UnsupportedTraceVersionException e = assertThrows(UnsupportedTraceVersionException.class, () -> Trace.read(file));
    assertEquals(2, e.version());
    assertTrue(e.getMessage().startsWith(file + ": trace format version 2 is not supported"), e.getMessage());
    assertTrue(e.getMessage().contains("versions 1 to 1 (the trace is newer: update earlystart)"), e.getMessage());
    Files.write(file, withHeader(whole, TraceFormat.OFF_VERSION, (short) 0));
    e = assertThrows(UnsupportedTraceVersionException.class, () -> Trace.read(file));
    assertFalse(e.getMessage().contains("newer"), e.getMessage());
  }

  /** {@code whole} with the u16 at {@code offset} set and a valid header checksum. */
  private static byte[] withHeader(byte[] whole, int offset, short value) {
    byte[] copy = whole.clone();
    ByteBuffer b = ByteBuffer.wrap(copy);
    b.putShort(offset, value);
    b.putInt(TraceFormat.OFF_CRC, TraceFormat.crc(copy));
    return copy;
  }

  private static CorruptTraceException rejected(Path file, byte[] bytes) throws IOException {
    Files.write(file, bytes);
    return assertThrows(CorruptTraceException.class, () -> Trace.read(file));
  }
}
