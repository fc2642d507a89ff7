package io.earlystart.cli;

import io.earlystart.overlay.format.OverlayReader;
import io.earlystart.overlay.synthesize.SynthesizeSummary;
import io.earlystart.overlay.synthesize.Synthesizer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code earlystart synthesize}: the whole customised VM from the base and an overlay, before any start. */
@Command(name = "synthesize", mixinStandardHelpOptions = true,
    description = "Write disk.img, memory.img, vmstate and vm.json of the customised VM into DIR.")
final class SynthesizeCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @picocli.CommandLine.Mixin
  BaseImages base;

  @picocli.CommandLine.Mixin
  OverlaySource overlay;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "Output directory.")
  Path outDir;

  @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
  Integer threads;

  @Option(names = "--no-sync", description = "Skip the fsync before files are renamed into place (faster; "
      + "after a crash, files may look complete without their data).")
  boolean noSync;

  @Option(names = {"-q", "--quiet"}, description = "No progress bar and no summary.")
  boolean quiet;

  @Override
  public Integer call() throws Exception {
    ProgressBar bar = ProgressBar.forTerminal(quiet);
    SynthesizeSummary s;
    try (OverlayReader reader = overlay.open()) {
      s = Synthesizer.synthesize(reader, base.disk, base.memory, outDir,
          threads != null ? threads : Runtime.getRuntime().availableProcessors(), !noSync, bar);
    } finally {
      bar.finish();
    }
    if (!quiet) {
      var out = spec.commandLine().getOut();
      out.printf("synthesized %s in %s from overlay %s (%s, %d segments): %s of images, %.0f MB/s%n", outDir,
          Units.seconds(s.elapsedNanos()), s.overlayId(), Units.bytes(s.overlayBytes()), s.segments(),
          Units.bytes(s.imageBytes()), s.megabytesPerSecond());
      out.flush();
    }
    return 0;
  }
}
