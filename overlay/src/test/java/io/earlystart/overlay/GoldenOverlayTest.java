package io.earlystart.overlay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.earlystart.overlay.base.BaseMismatchException;
import io.earlystart.overlay.base.BlockHashReference;
import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.CreateSummary;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.create.OverlayReorderer;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.BaseDigest;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.OverlayHeader;
import io.earlystart.overlay.io.Hex;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.io.Sha256;
import io.earlystart.overlay.synthesize.Synthesizer;
import java.io.IOException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A committed overlay made by this build from a fixed {@link RandomPair}: today's code must still read
 * it (a) and must still write exactly the same bytes (b), so any change of the on-disk format, of the
 * chunk classification or of the zstd output is noticed. Beside it, {@code golden/v1.overlay}, made
 * from the same inputs by the last build that wrote format version 1 (bases named by their SHA-256):
 * it must still synthesize, and is never regenerated.
 *
 * <p>To regenerate {@code src/test/resources/golden/v2.overlay} after an intended change (and only
 * after FORMAT.md says what changed, and the format version was raised if old readers would misread
 * the file):
 *
 * <pre>
 * mvn -B -o test -pl overlay -Dtest=GoldenOverlayTest -Dgolden.write=true
 * </pre>
 *
 * then update {@link #GOLDEN_ID} to the id the run prints, and commit both.
 */
class GoldenOverlayTest {
  /** The overlay id (SHA-256 of the stored manifest) of the committed golden file. */
  static final String GOLDEN_ID = "4d770f6e5f2928e1d196b412cb033c2a643384b1afc4e32667a05a36660a6533";
  /** The id of the version-1 overlay of the same inputs, written by commit c28a452. */
  static final String V1_ID = "0229b718a7b2553e9fd42d6991e1ddbaec830d0db5711ed7063998cfd6462e7a";

  static final String RESOURCE = "/golden/v2.overlay";
  static final String V1_RESOURCE = "/golden/v1.overlay";
  static final long SEED = 20_240_601L;
  static final int CS = Manifest.CHUNK_SIZE;
  /** 64 disk chunks, the last one partial; the disk grew by a few chunks from its base. */
  static final int DISK_SIZE = 63 * CS + 1234;
  static final int BASE_DISK_SIZE = 60 * CS + 100;
  static final int MEMORY_SIZE = 32 * CS;
  static final int SEGMENT_SIZE = 16 << 10;

  @TempDir
  Path dir;

  /** The inputs of the golden overlay, all derived from {@link #SEED}. */
  record Inputs(RandomPair pair, Path vmstate, Path vmConfig) {}

  static Inputs inputs(Path dir) throws IOException {
    RandomPair pair = RandomPair.create(dir, SEED, BASE_DISK_SIZE, DISK_SIZE, MEMORY_SIZE);
    Random r = new Random(SEED + 1);
    byte[] text = "QEVM device state ".getBytes(StandardCharsets.US_ASCII);
    byte[] state = new byte[3000];
    for (int i = 0; i < state.length; i++) {
      state[i] = (byte) (i % 16 == 0 ? r.nextInt(256) : text[i % text.length]);
    }
    Path vmstate = dir.resolve("vmstate");
    Files.write(vmstate, state);
    Path vmConfig = dir.resolve("vm.json");
    Files.writeString(vmConfig, "{\n  \"ram\": \"" + MEMORY_SIZE + "\",\n  \"machine\": \"q35\",\n"
        + "  \"cpu\": \"max\",\n  \"disk\": \"virtio\"\n}\n", StandardCharsets.UTF_8);
    return new Inputs(pair, vmstate, vmConfig);
  }

  static CreateSummary create(Inputs in, Path overlay) throws IOException, InterruptedException {
    RandomPair p = in.pair();
    return OverlayCreator.create(CreateOptions.of(p.baseDisk, p.baseMemory, p.disk, p.memory, overlay)
        .withAttachments(in.vmstate(), in.vmConfig()).withSegmentSize(SEGMENT_SIZE).withThreads(1),
        Progress.NONE);
  }

  /**
   * The committed file, or a failure that says how to make it. With {@code -Dgolden.write=true} it is
   * first rewritten from today's code (once per run), and every check then runs against the new file:
   * nothing is skipped, and the id check fails with the id to put in {@link #GOLDEN_ID}.
   */
  static Path golden() throws Exception {
    if (Boolean.getBoolean("golden.write")) {
      rewriteOnce();
    }
    URL url = GoldenOverlayTest.class.getResource(RESOURCE);
    if (url == null) {
      fail("test resource " + RESOURCE + " is missing; " + HOW_TO_REGENERATE);
    }
    return Path.of(url.toURI());
  }

  static final String HOW_TO_REGENERATE = "if the change is intended and overlay/FORMAT.md describes it, "
      + "regenerate with: mvn -B -o test -pl overlay -Dtest=GoldenOverlayTest -Dgolden.write=true, set "
      + "GoldenOverlayTest.GOLDEN_ID to the id it prints, and commit src/test/resources/golden/v2.overlay";

  private static boolean rewritten;

  /** Rewrites the golden file in src/test/resources and in target/test-classes (where tests read it). */
  private static synchronized void rewriteOnce() throws Exception {
    if (rewritten) {
      return;
    }
    Path tmp = Files.createTempDirectory("golden");
    Path base = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    Path source = base.resolve("src/test/resources" + RESOURCE);
    Files.createDirectories(source.getParent());
    CreateSummary s = create(inputs(tmp), source);
    Path built = base.resolve("target/test-classes" + RESOURCE);
    Files.createDirectories(built.getParent());
    Files.copy(source, built, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    System.out.println("golden overlay written to " + source + " (" + s.overlayBytes() + " bytes, "
        + s.segments() + " segments), id " + s.overlayId() + ": set GoldenOverlayTest.GOLDEN_ID to it");
    rewritten = true;
  }

  @Test
  void goldenSynthesizesToTheSeededImages() throws Exception {
    Inputs in = inputs(dir);
    Path out = dir.resolve("out");
    try (OverlayFile f = OverlayFile.open(golden())) {
      Synthesizer.synthesize(f, in.pair().baseDisk, in.pair().baseMemory, out, 2, Progress.NONE);
    }
    RandomPair.assertSame(in.pair().disk, out.resolve(Image.DISK.fileName));
    RandomPair.assertSame(in.pair().memory, out.resolve(Image.MEMORY.fileName));
    RandomPair.assertSame(in.vmstate(), out.resolve(Attachment.VMSTATE));
    RandomPair.assertSame(in.vmConfig(), out.resolve(Attachment.VM_CONFIG));
  }

  @Test
  void creatingTodayGivesTheSameBytes() throws Exception {
    Path today = dir.resolve("today.overlay");
    CreateSummary s = create(inputs(dir), today);
    byte[] want = Files.readAllBytes(golden());
    byte[] got = Files.readAllBytes(today);
    if (!java.util.Arrays.equals(want, got)) {
      long at = java.util.Arrays.mismatch(want, got);
      fail("create no longer writes the golden overlay byte for byte: first difference at offset " + at
          + " (golden " + want.length + " bytes, id " + GOLDEN_ID + "; today " + got.length + " bytes, id "
          + s.overlayId() + "); " + HOW_TO_REGENERATE);
    }
  }

  @Test
  void goldenIdIsPinned() throws Exception {
    try (OverlayFile f = OverlayFile.open(golden())) {
      assertEquals(GOLDEN_ID, f.id(), "overlay id of " + RESOURCE + "; " + HOW_TO_REGENERATE);
      assertEquals(OverlayHeader.CURRENT_VERSION, f.header().version());
      assertTrue(Files.size(golden()) < 64 << 10, "keep the committed golden file under 64 KiB");
      Manifest m = f.manifest();
      assertEquals(DISK_SIZE, m.imageSize(Image.DISK));
      assertEquals(MEMORY_SIZE, m.imageSize(Image.MEMORY));
      assertEquals(BASE_DISK_SIZE, m.base(Image.DISK).size());
      assertTrue(m.segments().size() > 1, "the golden overlay should have several segments");
      assertEquals(2, m.attachments().size());
      long[] kinds = m.table(Image.DISK).countByKind();
      for (ChunkKind k : ChunkKind.values()) {
        assertTrue(kinds[k.ordinal()] > 0, "the golden disk table has no " + k + " chunk");
      }
      assertArrayEquals(Sha256.of(Files.readAllBytes(golden()), OverlayHeader.SIZE, f.header().manifestLength()),
          f.header().manifestSha256());
    }
  }

  // ---- version 1: bases named by the SHA-256 of every byte ----------------------------------------

  /** The committed version-1 overlay of {@link #inputs}. */
  static Path v1() throws Exception {
    URL url = GoldenOverlayTest.class.getResource(V1_RESOURCE);
    if (url == null) {
      fail("test resource " + V1_RESOURCE + " is missing: it is what version 1 wrote; restore it from git");
    }
    return Path.of(url.toURI());
  }

  static void synthesize(Path overlay, Inputs in, Path out) throws Exception {
    try (OverlayFile f = OverlayFile.open(overlay)) {
      Synthesizer.synthesize(f, in.pair().baseDisk, in.pair().baseMemory, out, 2, Progress.NONE);
    }
  }

  static void assertSynthesized(Inputs in, Path out) throws IOException {
    RandomPair.assertSame(in.pair().disk, out.resolve(Image.DISK.fileName));
    RandomPair.assertSame(in.pair().memory, out.resolve(Image.MEMORY.fileName));
    RandomPair.assertSame(in.vmstate(), out.resolve(Attachment.VMSTATE));
    RandomPair.assertSame(in.vmConfig(), out.resolve(Attachment.VM_CONFIG));
  }

  /** {@code overlay} with another version in its header (and the header's CRC made right again). */
  static Path relabel(Path overlay, int version, Path to) throws IOException {
    byte[] b = Files.readAllBytes(overlay);
    ByteBuffer header = ByteBuffer.wrap(b); // big-endian
    header.putShort(8, (short) version);
    CRC32C crc = new CRC32C();
    crc.update(b, 0, OverlayHeader.SIZE - 4);
    header.putInt(OverlayHeader.SIZE - 4, (int) crc.getValue());
    return Files.write(to, b);
  }

  @Test
  void v1GoldenStillSynthesizes() throws Exception {
    Inputs in = inputs(dir);
    Path out = dir.resolve("out");
    synthesize(v1(), in, out);
    assertSynthesized(in, out);
  }

  @Test
  void v1NamesBasesBySha256AndV2ByBlockHash() throws Exception {
    Inputs in = inputs(dir);
    Path[] bases = {in.pair().baseDisk, in.pair().baseMemory};
    try (OverlayFile f = OverlayFile.open(v1())) {
      assertEquals(V1_ID, f.id());
      assertEquals(1, f.header().version());
      assertEquals(BaseDigest.FLAT_SHA256, f.header().baseDigest());
      for (Image image : Image.values()) {
        assertArrayEquals(BlockHashReference.flatSha256(bases[image.ordinal()]), f.manifest().base(image).digest());
      }
    }
    try (OverlayFile f = OverlayFile.open(golden())) {
      assertEquals(2, f.header().version());
      assertEquals(BaseDigest.BLOCK_HASH, f.header().baseDigest());
      for (Image image : Image.values()) {
        assertArrayEquals(BlockHashReference.of(bases[image.ordinal()]), f.manifest().base(image).digest());
      }
    }
  }

  /** The header's version, not the manifest, says which digest to compute: relabelled, both overlays fail. */
  @Test
  void theVersionSaysWhichDigestTheBasesHave() throws Exception {
    Inputs in = inputs(dir);
    Path v1AsV2 = relabel(v1(), 2, dir.resolve("v1-as-v2.overlay"));
    Path v2AsV1 = relabel(golden(), 1, dir.resolve("v2-as-v1.overlay"));
    for (Path p : new Path[] {v1AsV2, v2AsV1}) {
      Path out = dir.resolve("out-" + p.getFileName());
      BaseMismatchException e = assertThrows(BaseMismatchException.class, () -> synthesize(p, in, out), p.toString());
      String label = p == v1AsV2 ? BaseDigest.BLOCK_HASH.label : BaseDigest.FLAT_SHA256.label;
      assertTrue(e.getMessage().contains("its " + label + " is "), e.getMessage());
      assertFalse(Files.exists(out.resolve(Image.DISK.fileName)), "synthesized after all");
    }
  }

  @Test
  void v1WithAnotherBaseIsRefusedNamingBothSha256s() throws Exception {
    Inputs in = inputs(dir);
    byte[] memory = Files.readAllBytes(in.pair().baseMemory);
    byte[] want;
    try (OverlayFile f = OverlayFile.open(v1())) {
      want = f.manifest().base(Image.MEMORY).digest();
    }
    memory[memory.length / 3] ^= 1;
    Files.write(in.pair().baseMemory, memory);
    BaseMismatchException e = assertThrows(BaseMismatchException.class,
        () -> synthesize(v1(), in, dir.resolve("out")));
    String msg = e.getMessage();
    assertTrue(msg.contains(Image.MEMORY.baseName + " " + in.pair().baseMemory), msg);
    assertTrue(msg.contains("its sha256 is " + Hex.of(BlockHashReference.flatSha256(in.pair().baseMemory))
        + ", the overlay needs " + Hex.of(want)), msg);
  }

  /** reorder copies the base digests, so it keeps the version that says what they are. */
  @Test
  void reorderKeepsTheVersionOfItsInput() throws Exception {
    Inputs in = inputs(dir);
    Path reordered = dir.resolve("reordered.overlay");
    OverlayReorderer.reorder(v1(), (image, chunk) -> image == Image.MEMORY ? chunk : -1, reordered, SEGMENT_SIZE, 3, 1);
    try (OverlayFile f = OverlayFile.open(reordered); OverlayFile old = OverlayFile.open(v1())) {
      assertEquals(1, f.header().version());
      assertFalse(f.id().equals(old.id()), "reorder changed nothing");
      for (Image image : Image.values()) {
        assertEquals(old.manifest().base(image), f.manifest().base(image));
      }
    }
    Path out = dir.resolve("out");
    synthesize(reordered, in, out);
    assertSynthesized(in, out);
  }
}
