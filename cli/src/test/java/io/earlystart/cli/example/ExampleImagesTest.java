package io.earlystart.cli.example;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.cli.ExampleImagesCommand;
import io.earlystart.cli.SizeConverter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ExampleImagesTest {

  private static final int PAGE = 4096;
  private static final long DISK = 32L << 20;
  private static final long MEMORY = 16L << 20;
  private static final List<String> FILES = List.of(ExampleImages.BASE_DISK, ExampleImages.BASE_MEMORY,
      ExampleImages.DISK, ExampleImages.MEMORY, ExampleImages.VMSTATE, ExampleImages.VM_CONFIG);

  @Test
  void generatesValidDeterministicRealisticImages(@TempDir Path tmp) throws Exception {
    Path a = tmp.resolve("a");
    ExampleImages.Result r = ExampleImages.generate(a, new ExampleImages.Spec(7, DISK, MEMORY));

    assertEquals(DISK, Files.size(r.baseDisk()));
    assertEquals(DISK, Files.size(r.disk()));
    assertEquals(MEMORY, Files.size(r.baseMemory()));
    assertEquals(MEMORY, Files.size(r.memory()));
    assertTrue(Files.size(r.vmstate()) > 100_000, "vmstate size");
    assertTrue(Files.readString(r.vmConfig()).contains("\"ram\": \"" + MEMORY + "\""), "vm.json has ram");
    assertTrue(Files.notExists(a.resolve(".tree-tmp")), "temp tree removed");

    // both disks are valid ext4 (e2fsck must exist: a missing tool fails the test)
    Path e2fsck = E2fsTools.find("e2fsck").orElseThrow(() -> new AssertionError("e2fsck not found: install e2fsprogs"));
    for (Path disk : List.of(r.baseDisk(), r.disk())) {
      Process p = new ProcessBuilder(e2fsck.toString(), "-fn", disk.toString()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      assertEquals(0, p.waitFor(), "e2fsck -fn " + disk.getFileName() + ":\n" + out);
    }

    // determinism, generated the second time through the picocli command
    Path b = tmp.resolve("b");
    StringWriter sw = new StringWriter();
    CommandLine cl = new CommandLine(new ExampleImagesCommand());
    cl.setOut(new PrintWriter(sw));
    int exit = cl.execute(b.toString(), "--seed", "7", "--disk-size", "32MiB", "--memory-size", "16M");
    assertEquals(0, exit, sw.toString());
    assertEquals(FILES.size(), sw.toString().strip().split("\n").length, sw.toString());
    for (String f : FILES) {
      assertArrayEquals(sha256(a.resolve(f)), sha256(b.resolve(f)), f + " differs between two runs");
    }

    byte[] baseDisk = Files.readAllBytes(r.baseDisk());
    byte[] disk = Files.readAllBytes(r.disk());
    int blocks = baseDisk.length / PAGE;
    int changed = 0;
    for (int i = 0; i < blocks; i++) {
      if (!Arrays.equals(baseDisk, i * PAGE, (i + 1) * PAGE, disk, i * PAGE, (i + 1) * PAGE)) {
        changed++;
      }
    }
    double fraction = changed / (double) blocks;
    assertTrue(fraction >= 0.05 && fraction <= 0.40, "changed disk chunks: " + fraction);

    Set<ByteBuffer> baseChunks = new HashSet<>();
    for (int i = 0; i < blocks; i++) {
      if (!isZero(baseDisk, i * PAGE)) {
        baseChunks.add(ByteBuffer.wrap(baseDisk, i * PAGE, PAGE).slice());
      }
    }
    byte[] baseMem = Files.readAllBytes(r.baseMemory());
    byte[] mem = Files.readAllBytes(r.memory());
    int zero = 0;
    int equalToBaseDisk = 0;
    int smallEdits = 0;
    int baseZero = 0;
    Map<ByteBuffer, Integer> counts = new HashMap<>();
    for (int i = 0; i < mem.length / PAGE; i++) {
      int off = i * PAGE;
      baseZero += isZero(baseMem, off) ? 1 : 0;
      if (isZero(mem, off)) {
        zero++;
        continue;
      }
      ByteBuffer page = ByteBuffer.wrap(mem, off, PAGE).slice();
      counts.merge(page, 1, Integer::sum);
      if (baseChunks.contains(page)) {
        equalToBaseDisk++;
      }
      int diff = 0;
      for (int k = 0; k < PAGE; k++) {
        diff += mem[off + k] != baseMem[off + k] ? 1 : 0;
      }
      if (diff > 0 && diff < 128) {
        smallEdits++;
      }
    }
    long selfDuplicates = counts.entrySet().stream()
        .filter(e -> e.getValue() >= 3 && !baseChunks.contains(e.getKey())).count();
    int pages = mem.length / PAGE;
    assertTrue(zero > 0, "zero pages");
    assertTrue(baseZero > pages / 4 && baseZero < pages / 2, "base zero pages: " + baseZero);
    assertTrue(equalToBaseDisk > 0, "pages equal to a base-disk chunk");
    assertTrue(smallEdits > 0, "pages with a small in-place edit");
    assertTrue(selfDuplicates > 0, "self-duplicate pages");
  }

  @Test
  void rejectsBadSizes() {
    assertThrows(IllegalArgumentException.class, () -> new ExampleImages.Spec(1, 8L << 20, 16L << 20));
    assertThrows(IllegalArgumentException.class, () -> new ExampleImages.Spec(1, (32L << 20) + 512, 16L << 20));
    assertThrows(IllegalArgumentException.class, () -> new ExampleImages.Spec(1, 32L << 20, 2L << 20));
    assertThrows(IllegalArgumentException.class, () -> new ExampleImages.Spec(1, 32L << 20, (16L << 20) + 1));
  }

  @Test
  void parsesSizes() {
    assertEquals(4096L, SizeConverter.parse("4096"));
    assertEquals(4096L, SizeConverter.parse("4096B"));
    assertEquals(64L << 10, SizeConverter.parse("64K"));
    assertEquals(64L << 10, SizeConverter.parse("64KiB"));
    assertEquals(1L << 20, SizeConverter.parse("1MiB"));
    assertEquals(64L << 20, SizeConverter.parse("64m"));
    assertEquals(2L << 30, SizeConverter.parse("2G"));
    assertEquals(2L << 30, SizeConverter.parse("2GiB"));
    for (String bad : List.of("", "M", "-1M", "1.5G", "12X", "1 MB", "99999999999999999999")) {
      assertThrows(IllegalArgumentException.class, () -> SizeConverter.parse(bad), bad);
    }
    assertThrows(CommandLine.TypeConversionException.class, () -> new SizeConverter().convert("abc"));
  }

  private static boolean isZero(byte[] b, int off) {
    for (int i = off; i < off + PAGE; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  private static byte[] sha256(Path p) throws IOException, NoSuchAlgorithmException {
    return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
  }
}
