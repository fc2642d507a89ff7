package io.earlystart.cli;

import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.OverlayReorderer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code earlystart reorder}: an existing overlay's stream put in access order, without the images. */
@Command(name = "reorder", mixinStandardHelpOptions = true,
    description = "Write Y.overlay: X.overlay with its stream in the order the trace(s) first touched the chunks "
        + "(untouched chunks after, in offset order). Same images, new overlay id; the images are not needed.")
final class ReorderCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "X.overlay", description = "The overlay to reorder.")
  Path input;

  @Option(names = "--trace", required = true, paramLabel = "T",
      description = "Access trace(s) recorded with mount --trace-out (earliest touch in any trace wins). Repeatable.")
  List<Path> traces = new ArrayList<>();

  @Option(names = "--segment-size", paramLabel = "SIZE", defaultValue = "1MiB", converter = SizeConverter.class,
      description = "Chunk bytes per segment, about, as create cuts (default: ${DEFAULT-VALUE}).")
  long segmentSize;

  @Option(names = "--level", paramLabel = "N", defaultValue = "" + CreateOptions.DEFAULT_LEVEL,
      description = "zstd level of the new segments, 1..19 (default: ${DEFAULT-VALUE}).")
  int level;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "Y.overlay", description = "Overlay to write.")
  Path output;

  @Override
  public Integer call() throws Exception {
    if (segmentSize < 4096 || segmentSize > 64 << 20) {
      throw new IllegalArgumentException("segment size must be between 4 KiB and 64 MiB, not " + segmentSize);
    }
    if (level < 1 || level > 19) {
      throw new IllegalArgumentException("zstd level must be between 1 and 19, not " + level);
    }
    if (input.toAbsolutePath().normalize().equals(output.toAbsolutePath().normalize())) {
      throw new IllegalArgumentException("write the reordered overlay to another file than " + input);
    }
    OverlayReorderer.Summary s = OverlayReorderer.reorder(input, Traces.order(traces), output, (int) segmentSize,
        level, Runtime.getRuntime().availableProcessors());
    var out = spec.commandLine().getOut();
    out.printf("overlay   %s (id %s), reordered from %s (id %s)%n", output, s.outputId(), input, s.inputId());
    out.printf("order     %d of %d payloads touched by the trace(s) stream first; %d segments, %s, in %s%n",
        s.touchedPayloads(), s.payloads(), s.segments(), Units.bytes(s.overlayBytes()), Units.seconds(s.elapsedNanos()));
    out.flush();
    return 0;
  }
}
