package io.earlystart.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The base VM's images, shared by every command that needs them (a picocli mixin). */
final class BaseImages {
  @Option(names = "--base-disk", required = true, paramLabel = "FILE", description = "Base disk image (raw).")
  Path disk;

  @Option(names = "--base-memory", required = true, paramLabel = "FILE", description = "Base memory image.")
  Path memory;
}
