package io.earlystart.cli;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Where the LD_PRELOAD library of {@code src/main/c/nohugepage.c} is: built by the cli module's Maven
 * build into {@code target/native/} beside {@code target/classes}, or named by the system property
 * {@code earlystart.nohugepage}. With it, QEMU's {@code madvise(MADV_HUGEPAGE)} on guest RAM is a no-op
 * and a fault on the mounted memory.img reads one 4 KiB page instead of a 2 MiB window.
 */
final class NoHugePage {
  static final String PROPERTY = "earlystart.nohugepage";

  private NoHugePage() {}

  static Path library() throws IOException {
    String configured = System.getProperty(PROPERTY);
    Path lib;
    if (configured != null) {
      lib = Path.of(configured);
    } else {
      Path code;
      try {
        code = Path.of(NoHugePage.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      } catch (URISyntaxException | SecurityException | NullPointerException e) {
        throw new IOException("cannot tell where the CLI's classes are, so not where nohugepage.so is; set -D"
            + PROPERTY + "=FILE or use --ram-faults 2m", e);
      }
      lib = code.resolveSibling("native").resolve("nohugepage.so");
    }
    if (!Files.isReadable(lib)) {
      throw new NoSuchFileException(lib.toString(), null,
          "the library for 4 KiB RAM faults is not built (mvn -B package in the project builds it with cc); "
              + "or use --ram-faults 2m");
    }
    return lib.toAbsolutePath();
  }
}
