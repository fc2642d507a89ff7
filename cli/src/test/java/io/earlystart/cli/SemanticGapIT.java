package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.io.DataRanges;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The semantic gap closed with stock QEMU and a stock guest (native-notes/holes.md), on the real test VM
 * built twice: with the guest telling the host what it freed (disk mounted with discard, a balloon with
 * free-page reporting) and without. The app's install deletes apt's package lists of the base and
 * downloads 100 MiB from the host, reads and deletes them.
 */
@Timeout(900)
class SemanticGapIT {
  private static final long MIB = 1 << 20;
  private static final String[] LISTS = {"/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
      "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"};
  static Path on;
  static Path off;
  static Manifest onOverlay;
  static Manifest offOverlay;
  static long onOverlaySize;
  static long offOverlaySize;
  @TempDir static Path shared;

  @BeforeAll
  static void buildBothVms() throws Exception {
    TestVm.requireTools("debugfs");
    on = TestVm.build("vm", TestVm.none());
    off = TestVm.build("vm-semantic-off", Map.of("VM_SEMANTIC", "0"));
    TestVm.create(on, shared.resolve("on.overlay"));
    TestVm.create(off, shared.resolve("off.overlay"));
    try (OverlayFile f = OverlayFile.open(shared.resolve("on.overlay"))) {
      onOverlay = f.manifest();
    }
    try (OverlayFile f = OverlayFile.open(shared.resolve("off.overlay"))) {
      offOverlay = f.manifest();
    }
    onOverlaySize = Files.size(shared.resolve("on.overlay"));
    offOverlaySize = Files.size(shared.resolve("off.overlay"));
  }

  /** The 4 KiB blocks (= chunks) a file of the base disk occupies, as debugfs reads them. */
  private static List<Integer> blocksOf(Path disk, String file) throws Exception {
    Process p = new ProcessBuilder("debugfs", "-R", "blocks " + file, disk.toString()).redirectErrorStream(false).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "debugfs failed on " + disk);
    List<Integer> blocks = new ArrayList<>();
    for (String b : out.trim().split("\\s+")) {
      if (!b.isEmpty()) {
        blocks.add(Integer.parseInt(b));
      }
    }
    return blocks;
  }

  private static DataRanges ranges(Path image) throws Exception {
    return DataRanges.of(image, Files.size(image));
  }

  @Test
  void aDeletedFilesBlocksAreHolesInTheCapturedDiskAndZeroInTheOverlay() throws Exception {
    List<Integer> blocks = new ArrayList<>();
    for (String f : LISTS) {
      blocks.addAll(blocksOf(on.resolve("base/disk.img"), f));
    }
    assertTrue(blocks.size() >= 400, "the apt lists occupy " + blocks.size() + " blocks of the base disk");
    DataRanges onDisk = ranges(on.resolve("app/disk.img"));
    DataRanges offDisk = ranges(off.resolve("app/disk.img"));
    ChunkTable onTable = onOverlay.table(Image.DISK);
    ChunkTable offTable = offOverlay.table(Image.DISK);
    for (int b : blocks) {
      long pos = (long) b * Manifest.CHUNK_SIZE;
      assertTrue(!onDisk.hasData(pos, Manifest.CHUNK_SIZE), "block " + b + " of a deleted file is not a hole");
      int i = onTable.find(b);
      assertTrue(i >= 0 && onTable.kind(i) == ChunkKind.ZERO, "block " + b + " is not ZERO in the overlay");
      // without the semantic features the host cannot tell: the old data stays, as the base has it
      assertTrue(offDisk.hasData(pos, Manifest.CHUNK_SIZE), "block " + b + " is a hole without discard");
      assertTrue(offTable.find(b) < 0, "block " + b + " differs from the base without discard");
    }
  }

  @Test
  void theDownloadAndDeleteNeitherStaysOnDiskNorInMemory() throws Exception {
    long onDisk = ranges(on.resolve("app/disk.img")).dataBytes();
    long offDisk = ranges(off.resolve("app/disk.img")).dataBytes();
    assertTrue(offDisk - onDisk >= 95 * MIB, "disk.img allocated: " + onDisk + " with discard, " + offDisk + " without");
    long onMemory = ranges(on.resolve("app/memory.img")).dataBytes();
    long offMemory = ranges(off.resolve("app/memory.img")).dataBytes();
    assertTrue(offMemory - onMemory >= 60 * MIB,
        "memory.img allocated: " + onMemory + " with free-page reporting, " + offMemory + " without");
    long onChunks = nonZeroChunks(onOverlay.table(Image.MEMORY));
    long offChunks = nonZeroChunks(offOverlay.table(Image.MEMORY));
    assertTrue(offChunks - onChunks >= 60 * MIB / Manifest.CHUNK_SIZE,
        "memory chunks with content in the overlay: " + onChunks + " with reporting, " + offChunks + " without");
    assertTrue(offOverlaySize - onOverlaySize >= 95_000_000L,
        "overlay: " + onOverlaySize + " bytes with the semantic features, " + offOverlaySize + " without");
  }

  @Test
  void theVmWithTheBalloonSaysSoInVmJsonAndTheOtherDoesNot() throws Exception {
    assertTrue(Files.readString(on.resolve("app/vm.json")).contains("\"freePageReporting\": true"));
    String offJson = Files.readString(off.resolve("app/vm.json"));
    assertTrue(!offJson.contains("balloon") && offJson.contains("\"discard\": \"ignore\""), offJson);
  }

  /** Entries that carry content (not ZERO): what travels for this image. */
  private static long nonZeroChunks(ChunkTable t) {
    long[] byKind = t.countByKind();
    return t.size() - byKind[ChunkKind.ZERO.ordinal()];
  }
}
