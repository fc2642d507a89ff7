package io.earlystart.overlay.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.earlystart.overlay.RandomPair;
import io.earlystart.overlay.Tmpfs;
import io.earlystart.overlay.base.BaseMismatchException;
import io.earlystart.overlay.base.BlockHashReference;
import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.io.Hex;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.synthesize.Synthesizer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Bad input gets the right exception with a one-line message naming the file (and the offset where one
 * applies), and a failed synthesize leaves nothing behind: neither files under their final names nor
 * {@code .partial-*} temporaries. Covers truncation at every section boundary, flipped bytes in every
 * section, an unsupported version, wrong bases, bad {@code create} arguments, and an output directory
 * that is read-only or full (real tmpfs mounts; see {@link Tmpfs}).
 */
class BadInputTest {
  static final int CS = Manifest.CHUNK_SIZE;

  @TempDir
  Path dir;

  RandomPair pair;
  Path vmstate;
  Path vmConfig;
  Path overlay;
  byte[] bytes;
  OverlayHeader header;
  Manifest manifest;

  @BeforeEach
  void makeOverlay() throws Exception {
    pair = RandomPair.create(dir, 11, 120 * CS, 123 * CS + 777, 60 * CS);
    vmstate = dir.resolve("vmstate");
    byte[] state = new byte[6000];
    Random r = new Random(12);
    for (int i = 0; i < state.length; i++) {
      state[i] = (byte) (i % 7 == 0 ? r.nextInt(256) : 'A' + i % 26);
    }
    Files.write(vmstate, state);
    vmConfig = Files.writeString(dir.resolve("vm.json"), "{\"ram\": \"" + 60 * CS + "\"}\n");
    overlay = dir.resolve("x.overlay");
    OverlayCreator.create(options(overlay).withSegmentSize(16 << 10), Progress.NONE);
    bytes = Files.readAllBytes(overlay);
    try (OverlayFile f = OverlayFile.open(overlay)) {
      header = f.header();
      manifest = f.manifest();
    }
    assertEquals(2, manifest.attachments().size());
    assertTrue(manifest.segments().size() >= 3, "want several segments, got " + manifest.segments().size());
  }

  CreateOptions options(Path output) {
    return CreateOptions.of(pair.baseDisk, pair.baseMemory, pair.disk, pair.memory, output)
        .withAttachments(vmstate, vmConfig).withThreads(2);
  }

  // ---- 1. truncation --------------------------------------------------------------------------------

  @Test
  void truncatedAtEverySectionBoundaryIsRejectedOnOpen() throws Exception {
    Attachment first = manifest.attachments().get(0);
    Segment seg = manifest.segments().get(0);
    long data = header.dataStart();
    Map<String, Long> cuts = new LinkedHashMap<>();
    cuts.put("empty file", 0L);
    cuts.put("inside the header", 30L);
    cuts.put("exactly after the header", (long) OverlayHeader.SIZE);
    cuts.put("inside the manifest", OverlayHeader.SIZE + header.manifestLength() / 2L);
    cuts.put("exactly after the manifest", data);
    cuts.put("inside an attachment", data + first.offset() + first.length() / 2);
    cuts.put("inside the first segment", seg.fileOffset(header) + seg.length() / 2);
    cuts.put("one byte short of the end", bytes.length - 1L);
    for (Map.Entry<String, Long> cut : cuts.entrySet()) {
      Path file = dir.resolve("cut-" + cut.getValue() + ".overlay");
      Files.write(file, Arrays.copyOf(bytes, Math.toIntExact(cut.getValue())));
      CorruptOverlayException e = assertThrows(CorruptOverlayException.class, () -> OverlayFile.open(file).close(),
          cut.getKey());
      assertOneLine(e, file);
      assertTrue(e.getMessage().contains("truncated"), cut.getKey() + ": " + e.getMessage());
      assertEquals(cut.getValue(), e.offset(), cut.getKey() + ": " + e.getMessage());
      assertTrue(e.getMessage().contains("at offset " + cut.getValue()), cut.getKey() + ": " + e.getMessage());
    }
  }

  @Test
  void trailingGarbageIsRejectedOnOpen() throws Exception {
    Path file = Files.write(dir.resolve("long.overlay"), Arrays.copyOf(bytes, bytes.length + 1));
    CorruptOverlayException e = assertThrows(CorruptOverlayException.class, () -> OverlayFile.open(file).close());
    assertOneLine(e, file);
    assertEquals(bytes.length, e.offset());
  }

  // ---- 2. flipped bytes -----------------------------------------------------------------------------

  @Test
  void flippedByteInTheMagicIsNotAnOverlay() throws Exception {
    for (int pos = 0; pos < OverlayHeader.MAGIC.length; pos++) {
      CorruptOverlayException e = flipAndSynthesize(pos, 0x40);
      assertEquals(0, e.offset(), e.getMessage());
      assertTrue(e.getMessage().contains("bad magic"), e.getMessage());
    }
  }

  @Test
  void flippedByteInTheHeaderFailsItsChecksum() throws Exception {
    Random r = new Random(1);
    for (int pos = OverlayHeader.MAGIC.length; pos < OverlayHeader.SIZE; pos++) {
      CorruptOverlayException e = flipAndSynthesize(pos, 1 + r.nextInt(255));
      assertEquals(OverlayHeader.SIZE - 4, e.offset(), e.getMessage());
      assertTrue(e.getMessage().contains("header checksum mismatch"), e.getMessage());
    }
  }

  @Test
  void flippedByteInTheManifestFailsItsHash() throws Exception {
    Random r = new Random(2);
    for (int i = 0; i < 40; i++) {
      int pos = OverlayHeader.SIZE + r.nextInt(header.manifestLength());
      CorruptOverlayException e = flipAndSynthesize(pos, 1 + r.nextInt(255));
      assertEquals(OverlayHeader.SIZE, e.offset(), e.getMessage());
      assertTrue(e.getMessage().contains("manifest SHA-256 mismatch"), e.getMessage());
    }
  }

  @Test
  void flippedByteInAnAttachmentIsCaughtOnRead() throws Exception {
    Random r = new Random(3);
    for (int i = 0; i < 30; i++) {
      Attachment a = manifest.attachments().get(r.nextInt(manifest.attachments().size()));
      long pos = header.dataStart() + a.offset() + r.nextInt(a.length());
      CorruptOverlayException e = flipAndSynthesize(pos, 1 + r.nextInt(255));
      assertEquals(header.dataStart() + a.offset(), e.offset(), e.getMessage());
      assertTrue(e.getMessage().contains("attachment " + a.name() + ": SHA-256 mismatch"), e.getMessage());
    }
  }

  @Test
  void flippedByteInASegmentIsCaughtOnReadNamingTheSegment() throws Exception {
    Random r = new Random(4);
    for (int i = 0; i < 60; i++) {
      Segment s = manifest.segments().get(r.nextInt(manifest.segments().size()));
      long pos = s.fileOffset(header) + r.nextInt(s.length());
      CorruptOverlayException e = flipAndSynthesize(pos, 1 + r.nextInt(255));
      assertEquals(s.fileOffset(header), e.offset(), e.getMessage());
      assertTrue(e.getMessage().contains("segment " + s.index() + " ") && e.getMessage().contains("SHA-256 mismatch"),
          e.getMessage());
    }
  }

  /**
   * Writes the overlay with {@code bytes[pos] ^= mask}, opens it and synthesizes it. Never may that
   * silently give wrong images: either it throws CorruptOverlayException (returned, after checking that
   * the output directory holds nothing) or the output equals the customised images (which SHA-256 rules
   * out here, so that is reported as a failure too).
   */
  CorruptOverlayException flipAndSynthesize(long pos, int mask) throws Exception {
    byte[] bad = bytes.clone();
    bad[Math.toIntExact(pos)] ^= (byte) mask;
    Path file = Files.write(dir.resolve("flip-" + pos + ".overlay"), bad);
    Path out = dir.resolve("out-" + pos);
    try (OverlayFile f = OverlayFile.open(file)) {
      Synthesizer.synthesize(f, pair.baseDisk, pair.baseMemory, out, 2, Progress.NONE);
    } catch (CorruptOverlayException e) {
      assertOneLine(e, file);
      assertNothingLeft(out);
      Files.delete(file);
      return e;
    }
    RandomPair.assertSame(pair.disk, out.resolve(Image.DISK.fileName));
    RandomPair.assertSame(pair.memory, out.resolve(Image.MEMORY.fileName));
    RandomPair.assertSame(vmstate, out.resolve(Attachment.VMSTATE));
    fail("byte " + pos + " ^ " + mask + " went unnoticed (the output happens to be right, but SHA-256 should "
        + "catch it)");
    return null;
  }

  // ---- 3. unsupported version -----------------------------------------------------------------------

  @Test
  void otherVersionsAreRejectedWithTheSupportedRange() throws Exception {
    for (int version : new int[] {0, OverlayHeader.MAX_VERSION + 1, 0xFFFF}) {
      byte[] bad = bytes.clone();
      ByteBuffer b = ByteBuffer.wrap(bad); // big-endian
      b.putShort(8, (short) version);
      CRC32C crc = new CRC32C();
      crc.update(bad, 0, OverlayHeader.SIZE - 4);
      b.putInt(OverlayHeader.SIZE - 4, (int) crc.getValue());
      Path file = Files.write(dir.resolve("v" + version + ".overlay"), bad);
      UnsupportedVersionException e = assertThrows(UnsupportedVersionException.class,
          () -> OverlayFile.open(file).close());
      assertOneLine(e, file);
      String msg = e.getMessage();
      assertTrue(msg.contains("version " + version + " "), msg);
      assertTrue(msg.contains(OverlayHeader.MIN_VERSION + " to " + OverlayHeader.MAX_VERSION), msg);
      assertTrue(msg.contains("this build reads versions 1 to 2"), msg);
      assertEquals(version > OverlayHeader.MAX_VERSION, msg.contains("update earlystart"), msg);
    }
  }

  // ---- 4. wrong base --------------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(Image.class)
  void baseWithOtherBytesIsRejectedNamingBothDigests(Image image) throws Exception {
    Path good = image == Image.DISK ? pair.baseDisk : pair.baseMemory;
    byte[] other = Files.readAllBytes(good);
    other[other.length / 2] ^= 1;
    Path wrong = Files.write(dir.resolve("other-" + image.fileName), other);
    BaseMismatchException e = synthesizeWithBase(image, wrong);
    String want = Hex.of(manifest.base(image).digest());
    String got = Hex.of(BlockHashReference.of(wrong));
    assertTrue(e.getMessage().contains("its " + BaseDigest.BLOCK_HASH.label + " is " + got + ", the overlay needs "
        + want), e.getMessage());
    assertTrue(e.getMessage().contains(image.baseName), e.getMessage());
  }

  @ParameterizedTest
  @EnumSource(Image.class)
  void baseOfOtherSizeIsRejectedNamingBothSizes(Image image) throws Exception {
    Path good = image == Image.DISK ? pair.baseDisk : pair.baseMemory;
    byte[] other = Arrays.copyOf(Files.readAllBytes(good), (int) Files.size(good) + 512);
    Path wrong = Files.write(dir.resolve("longer-" + image.fileName), other);
    BaseMismatchException e = synthesizeWithBase(image, wrong);
    assertTrue(e.getMessage().contains(other.length + " bytes")
        && e.getMessage().contains(manifest.base(image).size() + " bytes"), e.getMessage());
    assertTrue(e.getMessage().contains(image.baseName), e.getMessage());
  }

  BaseMismatchException synthesizeWithBase(Image image, Path wrong) throws Exception {
    Path disk = image == Image.DISK ? wrong : pair.baseDisk;
    Path memory = image == Image.MEMORY ? wrong : pair.baseMemory;
    Path out = dir.resolve("out");
    BaseMismatchException e = assertThrows(BaseMismatchException.class, () -> {
      try (OverlayFile f = OverlayFile.open(overlay)) {
        Synthesizer.synthesize(f, disk, memory, out, 2, Progress.NONE);
      }
    });
    assertOneLine(e, wrong);
    assertNothingLeft(out);
    return e;
  }

  @Test
  void missingBaseOrOverlayIsNamedOnSynthesize() throws Exception {
    Path missing = dir.resolve("no-such.img");
    Path out = dir.resolve("out");
    for (Image image : Image.values()) {
      Path disk = image == Image.DISK ? missing : pair.baseDisk;
      Path memory = image == Image.MEMORY ? missing : pair.baseMemory;
      NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> {
        try (OverlayFile f = OverlayFile.open(overlay)) {
          Synthesizer.synthesize(f, disk, memory, out, 2, Progress.NONE);
        }
      });
      assertOneLine(e, missing);
      assertTrue(e.getMessage().contains(image.baseName + " not found"), e.getMessage());
      assertNothingLeft(out);
    }
    Path noOverlay = dir.resolve("no-such.overlay");
    NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> OverlayFile.open(noOverlay).close());
    assertOneLine(e, noOverlay);
    assertTrue(e.getMessage().contains("overlay not found"), e.getMessage());
  }

  // ---- 5. bad create arguments ----------------------------------------------------------------------

  @Test
  void memoryOfOtherSizeThanItsBaseIsRefused() throws Exception {
    byte[] memory = Files.readAllBytes(pair.memory);
    Files.write(pair.memory, Arrays.copyOf(memory, memory.length + CS));
    Path out = dir.resolve("new.overlay");
    IOException e = assertThrows(IOException.class, () -> OverlayCreator.create(options(out), Progress.NONE));
    assertOneLine(e, pair.memory);
    assertTrue(e.getMessage().contains("sizes do not match"), e.getMessage());
    assertTrue(e.getMessage().contains((memory.length + CS) + " bytes") || e.getMessage().contains(
        String.valueOf(memory.length + CS)), e.getMessage());
    assertTrue(e.getMessage().contains(String.valueOf(memory.length)), e.getMessage());
    assertNoCreateLeftovers(out);
  }

  @Test
  void missingInputsAreNamedByRole() throws Exception {
    Path out = dir.resolve("new.overlay");
    Path missing = dir.resolve("missing-input");
    CreateOptions o = options(out);
    Map<String, CreateOptions> cases = new LinkedHashMap<>();
    cases.put("base disk not found", new CreateOptions(missing, o.baseMemory(), o.disk(), o.memory(), o.vmstate(),
        o.vmConfig(), out, o.segmentSize(), o.level(), o.threads(), o.dedup()));
    cases.put("base memory not found", new CreateOptions(o.baseDisk(), missing, o.disk(), o.memory(), o.vmstate(),
        o.vmConfig(), out, o.segmentSize(), o.level(), o.threads(), o.dedup()));
    cases.put("customised disk not found", new CreateOptions(o.baseDisk(), o.baseMemory(), missing, o.memory(),
        o.vmstate(), o.vmConfig(), out, o.segmentSize(), o.level(), o.threads(), o.dedup()));
    cases.put("customised memory not found", new CreateOptions(o.baseDisk(), o.baseMemory(), o.disk(), missing,
        o.vmstate(), o.vmConfig(), out, o.segmentSize(), o.level(), o.threads(), o.dedup()));
    cases.put("vmstate not found", o.withAttachments(missing, vmConfig));
    cases.put("vm.json not found", o.withAttachments(vmstate, missing));
    for (Map.Entry<String, CreateOptions> c : cases.entrySet()) {
      NoSuchFileException e = assertThrows(NoSuchFileException.class,
          () -> OverlayCreator.create(c.getValue(), Progress.NONE), c.getKey());
      assertOneLine(e, missing);
      assertTrue(e.getMessage().contains(c.getKey()), e.getMessage());
      assertNoCreateLeftovers(out);
    }
  }

  @Test
  void missingOutputDirectoryIsNamed() throws Exception {
    Path missingDir = dir.resolve("no-such-dir");
    IOException e = assertThrows(IOException.class,
        () -> OverlayCreator.create(options(missingDir.resolve("new.overlay")), Progress.NONE));
    assertOneLine(e, missingDir);
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    assertFalse(Files.exists(missingDir));
  }

  /** Neither the output nor create's temporaries ({@code .NAME.data-PID}, {@code .NAME.tmp-PID}) exist. */
  void assertNoCreateLeftovers(Path output) throws IOException {
    assertFalse(Files.exists(output), output + " was created");
    try (Stream<Path> s = Files.list(output.getParent())) {
      List<Path> temps = s.filter(p -> p.getFileName().toString().startsWith("." + output.getFileName())).toList();
      assertTrue(temps.isEmpty(), "temporary files left: " + temps);
    }
  }

  // ---- 6. unwritable and full output ----------------------------------------------------------------

  @Test
  void readOnlyOutputDirectoryFailsCleanly() throws Exception {
    Path mnt = dir.resolve("ro");
    try (Tmpfs fs = Tmpfs.mount(mnt, "ro,size=2m")) {
      IOException e = assertThrows(IOException.class, () -> {
        try (OverlayFile f = OverlayFile.open(overlay)) {
          Synthesizer.synthesize(f, pair.baseDisk, pair.baseMemory, mnt, 2, Progress.NONE);
        }
      });
      assertOneLine(e, mnt);
      assertTrue(e.getMessage().contains("Read-only file system"), e.getMessage());
      assertNothingLeft(mnt);
    }
  }

  @Test
  void fullOutputDirectoryFailsCleanly() throws Exception {
    Path big = dir.resolve("big");
    Files.createDirectories(big);
    // about 4.5 MiB of non-zero disk and 1.5 MiB of memory: more than a 2 MiB tmpfs holds
    RandomPair p = RandomPair.create(big, 13, 1536 * CS, 1536 * CS, 512 * CS);
    Path file = big.resolve("big.overlay");
    OverlayCreator.create(CreateOptions.of(p.baseDisk, p.baseMemory, p.disk, p.memory, file)
        .withAttachments(vmstate, vmConfig).withThreads(2), Progress.NONE);
    Path mnt = dir.resolve("full");
    try (Tmpfs fs = Tmpfs.mount(mnt, "size=2m")) {
      Path out = mnt.resolve("vm");
      IOException e = assertThrows(IOException.class, () -> {
        try (OverlayFile f = OverlayFile.open(file)) {
          Synthesizer.synthesize(f, p.baseDisk, p.baseMemory, out, 2, Progress.NONE);
        }
      });
      assertOneLine(e, out);
      assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
      assertNothingLeft(out);
      assertEquals(0, fs.usedBytes(), "the tmpfs still holds data after the failed synthesize");
    }
  }

  // ---- helpers --------------------------------------------------------------------------------------

  /** The message is one line and names {@code file} (by its full path). */
  static void assertOneLine(Exception e, Path file) {
    String msg = e.getMessage();
    assertNotNull(msg, e.toString());
    assertFalse(msg.contains("\n"), "message is not one line: " + msg);
    assertTrue(msg.contains(file.toString()), "message does not name " + file + ": " + msg);
  }

  /** {@code out} does not exist or is empty: no image or attachment under its final name, no temporary. */
  static void assertNothingLeft(Path out) throws IOException {
    if (!Files.exists(out)) {
      return;
    }
    try (Stream<Path> s = Files.walk(out)) {
      List<Path> left = s.filter(p -> !p.equals(out)).toList();
      assertTrue(left.isEmpty(), "left behind in " + out + ": " + left);
    }
  }
}
