package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** launch's option checks that come before any mount or QEMU (LaunchIT runs the real thing). */
class LaunchOptionsTest {
  @TempDir
  Path tmp;

  private CliTest.Run launch(String... extra) throws Exception {
    Path kernel = Files.writeString(tmp.resolve("vmlinuz"), "k");
    Path initrd = Files.writeString(tmp.resolve("initrd"), "i");
    Path disk = Files.write(tmp.resolve("disk.img"), new byte[4096]);
    Path memory = Files.write(tmp.resolve("memory.img"), new byte[4096]);
    String[] base = {"launch", "--base-disk", disk.toString(), "--base-memory", memory.toString(), "--source",
        tmp.resolve("missing.overlay").toString(), "--cache-dir", tmp.resolve("cache").toString(), "--kernel",
        kernel.toString(), "--initrd", initrd.toString()};
    String[] args = new String[base.length + extra.length];
    System.arraycopy(base, 0, args, 0, base.length);
    System.arraycopy(extra, 0, args, base.length, extra.length);
    return CliTest.run(args);
  }

  @Test
  void anUnknownFaultSizeIsAUsageError() throws Exception {
    CliTest.Run r = launch("--ram-faults", "1g");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--ram-faults takes 4k or 2m, not 1g"), r.err());
  }

  @Test
  void aMissingNoHugePageLibraryIsNamedWithTheWayOut() throws Exception {
    String before = System.getProperty(NoHugePage.PROPERTY);
    System.setProperty(NoHugePage.PROPERTY, tmp.resolve("gone.so").toString());
    try {
      CliTest.Run r = launch();
      assertEquals(Errors.EXIT_ERROR, r.code(), r.err());
      assertTrue(r.err().contains("gone.so") && r.err().contains("--ram-faults 2m"), r.err());
      assertEquals(1, r.err().strip().lines().count(), r.err());
    } finally {
      if (before == null) {
        System.clearProperty(NoHugePage.PROPERTY);
      } else {
        System.setProperty(NoHugePage.PROPERTY, before);
      }
    }
  }

  @Test
  void theBuildMadeTheLibrary() throws Exception {
    Path lib = NoHugePage.library();
    assertTrue(Files.size(lib) > 0, lib.toString());
  }
}
