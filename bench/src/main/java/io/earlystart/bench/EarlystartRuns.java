package io.earlystart.bench;

import io.earlystart.cli.example.ExampleImages;
import io.earlystart.overlay.base.BaseIndex;
import io.earlystart.overlay.create.CreateOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What the benchmarks do around the measured earlystart calls: inputs, checks. Stateless. */
final class EarlystartRuns {
  static final String OVERLAY = "example.overlay";

  private EarlystartRuns() {}

  /** The options the CLI uses by default: zstd level 9, 1 MiB segments, all cores; with attachments. */
  static CreateOptions options(ExampleWorkload work, Path overlay) {
    ExampleImages.Result f = work.files;
    return CreateOptions.of(f.baseDisk(), f.baseMemory(), f.disk(), f.memory(), overlay)
        .withAttachments(f.vmstate(), f.vmConfig());
  }

  /** Makes sure the base index caches beside both bases exist (builds them if not). */
  static void ensureBaseIndex(ExampleWorkload work) throws IOException {
    BaseIndex.loadOrBuild(work.files.baseDisk(), "base disk");
    BaseIndex.loadOrBuild(work.files.baseMemory(), "base memory");
  }

  /**
   * Writes {@code DIR/example.overlay} of the workload with {@code earlystart create} (default
   * options) in a child JVM, so that the measuring JVM has not run the engine before; returns it.
   */
  static Path createWithCli(ExampleWorkload work, Path dir) throws IOException, InterruptedException {
    Path overlay = dir.resolve(OVERLAY);
    ExampleImages.Result f = work.files;
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ExternalTool.run(ExternalTool.Step.of(null, java.toString(), "-cp", System.getProperty("java.class.path"),
        "io.earlystart.cli.Main", "create", "--quiet", "--base-disk", f.baseDisk().toString(), "--base-memory",
        f.baseMemory().toString(), "--disk", f.disk().toString(), "--memory", f.memory().toString(), "--vmstate",
        f.vmstate().toString(), "--vm-config", f.vmConfig().toString(), "--output", overlay.toString()));
    return overlay;
  }

  /** Fails unless {@code out} holds disk.img, memory.img, vmstate and vm.json equal to the originals. */
  static void checkSynthesized(ExampleWorkload work, Path out, String who) throws IOException {
    ExampleImages.Result f = work.files;
    for (Path original : List.of(f.disk(), f.memory(), f.vmstate(), f.vmConfig())) {
      Path made = out.resolve(original.getFileName().toString());
      if (!Files.isRegularFile(made) || Files.mismatch(made, original) != -1) {
        throw new IllegalStateException(who + " synthesized " + made + ", which differs from " + original);
      }
    }
  }

  /**
   * {@code sync}: no dirty pages of an earlier iteration (or of the generator) are written back
   * during the next one, whichever tool made them.
   */
  static void syncAll() throws IOException, InterruptedException {
    ExternalTool.run(ExternalTool.Step.of(null, "sync"));
  }
}
