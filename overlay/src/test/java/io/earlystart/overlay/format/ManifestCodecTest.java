package io.earlystart.overlay.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link ManifestCodec}: round trip of hand-built manifests and one test per validation rule. */
class ManifestCodecTest {
  static final String SRC = "test.overlay";
  static final int CS = Manifest.CHUNK_SIZE;

  /** A mutable description of a manifest, valid as built; each rule test breaks one thing. */
  static final class Spec {
    int chunkSize = CS;
    long[] sizes = {12L * CS + 100, 8L * CS};
    BaseRef[] bases = {new BaseRef(10L * CS + 5, fill(0x11)), new BaseRef(8L * CS, fill(0x22))};
    List<int[]> disk = new ArrayList<>(List.of(
        e(0, ChunkKind.ZERO, 0), e(2, ChunkKind.DATA, 0), e(3, ChunkKind.BASE_DISK, 7), e(5, ChunkKind.DELTA, 1),
        e(9, ChunkKind.BASE_MEM, 3), e(12, ChunkKind.DATA, 0)));
    List<int[]> memory = new ArrayList<>(List.of(
        e(1, ChunkKind.DATA, 2), e(4, ChunkKind.DATA, 0), e(7, ChunkKind.ZERO, 0)));
    int payloadCount = 3;
    List<Attachment> attachments = new ArrayList<>(List.of(
        new Attachment(Attachment.VMSTATE, 0, 50, 120, fill(0x33)),
        new Attachment(Attachment.VM_CONFIG, 50, 20, 30, fill(0x44))));
    List<Segment> segments = new ArrayList<>(List.of(
        new Segment(0, 70, 1000, 8000, 0, 2, fill(0x55)),
        new Segment(1, 1070, 500, 4000, 2, 1, fill(0x66))));

    Manifest build() {
      return new Manifest(chunkSize, bases.clone(), sizes.clone(), new ChunkTable[] {table(disk), table(memory)},
          payloadCount, attachments, segments);
    }

    byte[] raw() {
      return ManifestCodec.encode(build());
    }

    static int[] e(int chunk, ChunkKind kind, int arg) {
      return new int[] {chunk, kind.code, arg};
    }

    private static ChunkTable table(List<int[]> entries) {
      ChunkTable.Builder b = new ChunkTable.Builder();
      for (int[] e : entries) {
        b.add(e[0], ChunkKind.ofCode(e[1]), e[2]);
      }
      return b.build();
    }
  }

  static byte[] fill(int b) {
    byte[] x = new byte[32];
    Arrays.fill(x, (byte) b);
    return x;
  }

  @Test
  void handBuiltManifestRoundTrips() throws Exception {
    Manifest m = new Spec().build();
    byte[] raw = ManifestCodec.encode(m);
    byte[] stored = ManifestCodec.compress(raw);
    Manifest back = ManifestCodec.decode(ManifestCodec.decompress(stored, raw.length, SRC), SRC);
    assertManifestEquals(m, back);
    assertArrayEquals(raw, ManifestCodec.encode(back), "re-encoding a decoded manifest changes its bytes");
    assertEquals(1570, back.dataLength());
    assertEquals(1, back.segmentOf(2).index());
  }

  @Test
  void emptyManifestRoundTrips() throws Exception {
    Spec s = new Spec();
    s.disk.clear();
    s.memory.clear();
    s.payloadCount = 0;
    s.attachments.clear();
    s.segments.clear();
    s.sizes[0] = 0;
    Manifest back = ManifestCodec.decode(s.raw(), SRC);
    assertManifestEquals(s.build(), back);
    assertEquals(0, back.dataLength());
  }

  static Stream<Arguments> brokenRules() {
    return Stream.of(
        rule("chunk size 8192 outside [4096, 4096]", s -> s.chunkSize = 8192),
        rule("disk.img size 1125899906842624 outside", s -> s.sizes[0] = 1L << 50),
        rule("base memory size 1125899906842624 outside", s -> s.bases[1] = new BaseRef(1L << 50, fill(1))),
        rule("memory.img entry count 3 outside [0, 2]", s -> s.sizes[1] = 2L * CS),
        rule("disk.img chunk 13 beyond the image's 13 chunks", s -> s.disk.add(Spec.e(13, ChunkKind.ZERO, 0))),
        rule("base disk chunk 11 outside [0, 10]", s -> s.disk.set(2, Spec.e(3, ChunkKind.BASE_DISK, 11))),
        rule("base memory chunk 8 outside [0, 7]", s -> s.disk.set(4, Spec.e(9, ChunkKind.BASE_MEM, 8))),
        rule("base disk chunk 7 outside [0, -1]", s -> s.bases[0] = new BaseRef(0, fill(1))),
        rule("payload id -1 out of range", s -> s.disk.set(1, Spec.e(2, ChunkKind.DATA, -1))),
        rule("payload count 6 outside [0, 5]", s -> s.payloadCount = 6),
        rule("chunk 4 refers to payload 3 of 3", s -> s.memory.set(1, Spec.e(4, ChunkKind.DATA, 3))),
        rule("payload 1 shared by a DELTA chunk", s -> s.memory.set(1, Spec.e(4, ChunkKind.DATA, 1))),
        rule("payload 0 shared by a DELTA chunk", s -> s.memory.set(1, Spec.e(4, ChunkKind.DELTA, 0))),
        rule("payload 2 is not used by any chunk", s -> s.memory.set(0, Spec.e(1, ChunkKind.DATA, 0))),
        rule("attachment count 65 outside [0, 64]", s -> {
          s.attachments.clear();
          for (int i = 0; i < 65; i++) {
            s.attachments.add(new Attachment("a" + i, i, 1, 1, fill(i)));
          }
        }),
        rule("attachment name '' empty or repeated", s -> s.attachments.set(1, renamed(s.attachments.get(1), ""))),
        rule("attachment name 'vmstate' empty or repeated",
            s -> s.attachments.set(1, renamed(s.attachments.get(1), Attachment.VMSTATE))),
        rule("string length 256 outside [0, 255]",
            s -> s.attachments.set(1, renamed(s.attachments.get(1), "x".repeat(256)))),
        rule("attachment offset 49 outside [50, 50]",
            s -> s.attachments.set(1, new Attachment(Attachment.VM_CONFIG, 49, 20, 30, fill(0x44)))),
        rule("attachment length 0 outside [1, 1073741824]",
            s -> s.attachments.set(1, new Attachment(Attachment.VM_CONFIG, 50, 0, 30, fill(0x44)))),
        rule("attachment raw length 1073741825 outside",
            s -> s.attachments.set(1, new Attachment(Attachment.VM_CONFIG, 50, 20, (1 << 30) + 1, fill(0x44)))),
        rule("segment count 0 outside [1, 3]", s -> s.segments.clear()),
        rule("segment count 4 outside [1, 3]", s -> {
          s.segments.clear();
          for (int i = 0; i < 4; i++) {
            s.segments.add(new Segment(i, 0, 10, 10, i, 1, fill(i)));
          }
        }),
        rule("segment length 0 outside", s -> s.segments.set(1, new Segment(1, 1070, 0, 4000, 2, 1, fill(6)))),
        rule("segment length 268435457 outside",
            s -> s.segments.set(1, new Segment(1, 1070, (256 << 20) + 1, 4000, 2, 1, fill(6)))),
        rule("segment raw length 0 outside", s -> s.segments.set(1, new Segment(1, 1070, 500, 0, 2, 1, fill(6)))),
        rule("segment payload count 0 outside [1, 1]",
            s -> s.segments.set(1, new Segment(1, 1070, 500, 4000, 2, 0, fill(6)))),
        rule("segment payload count 2 outside [1, 1]",
            s -> s.segments.set(1, new Segment(1, 1070, 500, 4000, 2, 2, fill(6)))),
        rule("segments hold 2 payloads, manifest has 3", s -> s.segments.remove(1)));
  }

  private static Arguments rule(String message, Consumer<Spec> breakIt) {
    return Arguments.of(message, breakIt);
  }

  private static Attachment renamed(Attachment a, String name) {
    return new Attachment(name, a.offset(), a.length(), a.rawLength(), a.sha256());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("brokenRules")
  void eachRuleRejects(String message, Consumer<Spec> breakIt) {
    Spec s = new Spec();
    breakIt.accept(s);
    assertRejects(s.raw(), message);
  }

  @Test
  void unknownChunkKindIsRejected() throws Exception {
    Spec s = new Spec();
    byte[] raw = s.raw();
    int kindAt = prefix(s.build()).length + 2; // disk entryCount, first gap, then the kind
    assertEquals(ChunkKind.ZERO.code, raw[kindAt]);
    raw[kindAt] = 9;
    assertRejects(raw, "unknown chunk kind 9");
  }

  @Test
  void trailingBytesAreRejected() {
    byte[] raw = new Spec().raw();
    assertRejects(Arrays.copyOf(raw, raw.length + 1), "1 unexpected bytes after the segment table");
  }

  @Test
  void everyTruncationIsRejected() {
    byte[] raw = new Spec().raw();
    for (int cut = 0; cut < raw.length; cut++) {
      assertRejects(Arrays.copyOf(raw, cut), "ends early");
    }
  }

  @Test
  void overlongAndOverflowingVarintsAreRejected() {
    byte[] tooLong = new byte[12];
    Arrays.fill(tooLong, (byte) 0x80);
    assertRejects(tooLong, "varint too long");
    byte[] overflow = new byte[10];
    Arrays.fill(overflow, (byte) 0xFF);
    overflow[9] = 0x01; // bit 63 set: negative as a long
    assertRejects(overflow, "varint out of range");
  }

  @Test
  void storedManifestThatDoesNotDecompressIsRejected() {
    byte[] raw = new Spec().raw();
    byte[] stored = ManifestCodec.compress(raw);
    CorruptOverlayException e = assertThrows(CorruptOverlayException.class,
        () -> ManifestCodec.decompress(Arrays.copyOf(stored, stored.length - 3), raw.length, SRC));
    assertOneLine(e, SRC);
    e = assertThrows(CorruptOverlayException.class,
        () -> ManifestCodec.decompress(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, raw.length, SRC));
    assertTrue(e.getMessage().contains("manifest does not decompress"), e.getMessage());
    e = assertThrows(CorruptOverlayException.class, () -> ManifestCodec.decompress(stored, raw.length - 1, SRC));
    assertOneLine(e, SRC);
    e = assertThrows(CorruptOverlayException.class, () -> ManifestCodec.decompress(stored, raw.length + 1, SRC));
    assertOneLine(e, SRC);
  }

  /** Adversarial input: a flipped byte anywhere either decodes to a valid manifest or is corruption, never a crash. */
  @Test
  void randomDamageIsCorruptionOrValidNeverACrash() {
    byte[] raw = new Spec().raw();
    Random r = new Random(7);
    for (int i = 0; i < 20_000; i++) {
      byte[] bad = raw.clone();
      int flips = 1 + r.nextInt(3);
      for (int f = 0; f < flips; f++) {
        bad[r.nextInt(bad.length)] ^= (byte) (1 + r.nextInt(255));
      }
      try {
        ManifestCodec.decode(bad, SRC);
      } catch (CorruptOverlayException expected) {
        assertOneLine(expected, SRC);
      } catch (RuntimeException crash) {
        fail("decode crashed on damaged input (iteration " + i + "): " + crash, crash);
      }
    }
  }

  /**
   * A large, realistic manifest: 100 000 changed chunks of a 16 GiB disk and 4 GiB of memory, payload ids in
   * stream order with some self duplicates, segments of about 1 MiB. Stored compressed it must stay well under
   * 1 MB: it is fetched before the first segment, so it is on the critical path of every first response.
   */
  @Test
  void manifestOf100kChangedChunksIsSmall() throws Exception {
    Random r = new Random(100_000);
    long diskSize = 16L << 30;
    long memorySize = 4L << 30;
    int baseDiskChunks = (int) (diskSize / CS);
    int memChunks = (int) (memorySize / CS);
    int[] perImage = {70_000, 30_000};
    long[] sizes = {diskSize, memorySize};
    ChunkTable[] tables = new ChunkTable[2];
    List<Integer> dataPayloads = new ArrayList<>();
    int payloads = 0;
    for (int image = 0; image < 2; image++) {
      long chunks = sizes[image] / CS;
      ChunkTable.Builder b = new ChunkTable.Builder();
      int chunk = -1;
      for (int i = 0; i < perImage[image]; i++) {
        // changes come in runs (files, page clusters) separated by gaps
        chunk += r.nextInt(10) < 8 ? 1 : 1 + r.nextInt((int) (chunks / perImage[image] * 4));
        int roll = r.nextInt(100);
        if (roll < 10) {
          b.add(chunk, ChunkKind.ZERO, 0);
        } else if (roll < 18) {
          b.add(chunk, ChunkKind.BASE_DISK, r.nextInt(baseDiskChunks));
        } else if (roll < 22) {
          b.add(chunk, ChunkKind.BASE_MEM, r.nextInt(memChunks));
        } else if (roll < 40) {
          b.add(chunk, ChunkKind.DELTA, payloads++);
        } else if (roll < 45 && !dataPayloads.isEmpty()) {
          b.add(chunk, ChunkKind.DATA, dataPayloads.get(r.nextInt(dataPayloads.size()))); // self duplicate
        } else {
          dataPayloads.add(payloads);
          b.add(chunk, ChunkKind.DATA, payloads++);
        }
      }
      tables[image] = b.build();
    }
    List<Segment> segments = new ArrayList<>();
    long offset = 0;
    for (int first = 0; first < payloads; ) {
      int count = Math.min(payloads - first, 256);
      int length = 300_000 + r.nextInt(400_000);
      byte[] sha = new byte[32];
      r.nextBytes(sha);
      segments.add(new Segment(segments.size(), offset, length, 1 << 20, first, count, sha));
      offset += length;
      first += count;
    }
    byte[] sha = new byte[32];
    r.nextBytes(sha);
    Manifest m = new Manifest(CS, new BaseRef[] {new BaseRef(diskSize, sha), new BaseRef(memorySize, fill(9))},
        sizes, tables, payloads, List.of(), segments);
    byte[] raw = ManifestCodec.encode(m);
    byte[] stored = ManifestCodec.compress(raw);
    System.out.printf("manifest of %d changed chunks, %d payloads, %d segments: %d bytes raw, %d bytes stored%n",
        tables[0].size() + tables[1].size(), payloads, segments.size(), raw.length, stored.length);
    assertTrue(stored.length < 1_000_000, "stored manifest of 100k chunks is " + stored.length + " bytes");
    assertManifestEquals(m, ManifestCodec.decode(ManifestCodec.decompress(stored, raw.length, SRC), SRC));
  }

  /** The bytes {@link ManifestCodec#encode} writes before the first table. */
  static byte[] prefix(Manifest m) {
    ByteSink s = new ByteSink(128);
    s.varint(m.chunkSize());
    for (Image image : Image.values()) {
      s.varint(m.imageSize(image)).varint(m.base(image).size()).bytes(m.base(image).digest());
    }
    byte[] p = s.toByteArray();
    assertArrayEquals(p, Arrays.copyOf(ManifestCodec.encode(m), p.length), "encode's layout changed");
    return p;
  }

  static void assertRejects(byte[] raw, String message) {
    CorruptOverlayException e = assertThrows(CorruptOverlayException.class, () -> ManifestCodec.decode(raw, SRC),
        "expected: " + message);
    assertTrue(e.getMessage().contains(message), "message '" + e.getMessage() + "' does not say: " + message);
    assertOneLine(e, SRC);
  }

  static void assertOneLine(Exception e, String source) {
    String msg = e.getMessage();
    assertTrue(msg.contains(source), "message does not name " + source + ": " + msg);
    assertFalse(msg.contains("\n"), "message is not one line: " + msg);
  }

  static void assertManifestEquals(Manifest want, Manifest got) {
    assertEquals(want.chunkSize(), got.chunkSize());
    assertArrayEquals(want.imageSizes(), got.imageSizes());
    assertEquals(Arrays.asList(want.bases()), Arrays.asList(got.bases()));
    for (Image image : Image.values()) {
      ChunkTable a = want.table(image);
      ChunkTable b = got.table(image);
      assertEquals(a.size(), b.size(), image + " table size");
      for (int i = 0; i < a.size(); i++) {
        assertEquals(a.chunk(i), b.chunk(i), image + " entry " + i);
        assertEquals(a.kind(i), b.kind(i), image + " entry " + i);
        assertEquals(a.arg(i), b.arg(i), image + " entry " + i);
      }
    }
    assertEquals(want.payloadCount(), got.payloadCount());
    assertEquals(want.attachments(), got.attachments());
    assertEquals(want.segments(), got.segments());
  }
}
