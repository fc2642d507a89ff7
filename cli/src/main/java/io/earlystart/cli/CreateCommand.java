package io.earlystart.cli;

import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.CreateSummary;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.Image;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code earlystart create}: makes an overlay from a base VM and a customised VM. */
@Command(name = "create", mixinStandardHelpOptions = true,
    description = "Make an overlay of the chunks where the customised disk and memory differ from the base.")
final class CreateCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @picocli.CommandLine.Mixin
  BaseImages base;

  @Option(names = "--disk", required = true, paramLabel = "FILE", description = "Customised disk image (raw).")
  Path disk;

  @Option(names = "--memory", required = true, paramLabel = "FILE", description = "Customised memory image.")
  Path memory;

  @Option(names = "--vmstate", paramLabel = "FILE", description = "QEMU device state to carry (attachment).")
  Path vmstate;

  @Option(names = "--vm-config", paramLabel = "FILE", description = "vm.json launch description to carry.")
  Path vmConfig;

  @Option(names = "--segment-size", paramLabel = "SIZE", defaultValue = "1MiB", converter = SizeConverter.class,
      description = "Chunk bytes per segment (default: ${DEFAULT-VALUE}).")
  long segmentSize;

  @Option(names = "--level", paramLabel = "N", defaultValue = "9",
      description = "zstd level, 1..19 (default: ${DEFAULT-VALUE}).")
  int level;

  @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
  Integer threads;

  @Option(names = "--trace", paramLabel = "T",
      description = "Access trace(s) recorded with mount --trace-out: the stream follows first touch (earliest in "
          + "any trace), untouched chunks after it in offset order. Repeatable. Default: offset order.")
  java.util.List<Path> traces = new java.util.ArrayList<>();

  @Option(names = "--no-dedup", description = "For measurements: dedup off (no copies of base chunks at other "
      + "offsets, no payloads shared by equal chunks); ZERO, DELTA at the same offset and zstd remain.")
  boolean noDedup;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "X.overlay", description = "Overlay to write.")
  Path output;

  @Option(names = {"-q", "--quiet"}, description = "No progress bar and no summary.")
  boolean quiet;

  @Override
  public Integer call() throws Exception {
    if (segmentSize > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("segment size too large: " + segmentSize);
    }
    CreateOptions options = new CreateOptions(base.disk, base.memory, disk, memory, vmstate, vmConfig, output,
        (int) segmentSize, level, threads != null ? threads : Runtime.getRuntime().availableProcessors(), !noDedup);
    ProgressBar bar = ProgressBar.forTerminal(quiet);
    CreateSummary s;
    try {
      s = OverlayCreator.create(options, Traces.order(traces), bar);
    } finally {
      bar.finish();
    }
    if (!quiet) {
      print(spec.commandLine().getOut(), s);
    }
    return 0;
  }

  private void print(PrintWriter out, CreateSummary s) {
    out.printf("overlay   %s (id %s)%n", output, s.overlayId());
    for (Image image : Image.values()) {
      long changed = 0;
      for (ChunkKind k : ChunkKind.values()) {
        changed += s.count(image, k);
      }
      out.printf("%-9s %d chunks differ from the base: zero %d, base-disk %d, base-memory %d, data %d, delta %d%n",
          image == Image.DISK ? "disk" : "memory", changed, s.count(image, ChunkKind.ZERO),
          s.count(image, ChunkKind.BASE_DISK), s.count(image, ChunkKind.BASE_MEM), s.count(image, ChunkKind.DATA),
          s.count(image, ChunkKind.DELTA));
    }
    if (s.dedup()) {
      out.printf("payloads  %d distinct chunks (%s), %d self-duplicate chunks share them, %d segments%n",
          s.payloads(), Units.bytes(s.payloadBytes()), s.duplicateChunks(), s.segments());
    } else {
      out.printf("payloads  %d chunks (%s), dedup off: one payload a chunk, no copies of base chunks, %d segments%n",
          s.payloads(), Units.bytes(s.payloadBytes()), s.segments());
    }
    out.printf("size      %s, %s of the customised images (%s); manifest %s%n", Units.bytes(s.overlayBytes()),
        Units.percent(s.overlayBytes(), s.inputBytes()), Units.bytes(s.inputBytes()), Units.bytes(s.manifestBytes()));
    out.printf("time      %s, %.0f MB/s of customised image (base index %s)%n", Units.seconds(s.elapsedNanos()),
        s.megabytesPerSecond(), s.baseIndexCached() ? "cached" : "built");
    out.flush();
  }
}
