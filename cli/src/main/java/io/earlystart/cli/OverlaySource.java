package io.earlystart.cli;

import io.earlystart.fetcher.ScheduledOverlayReader;
import io.earlystart.fetcher.SchedulerOptions;
import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.client.Sources;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.OverlayReader;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The overlay SOURCE of a command that reads a whole overlay (synthesize, inspect), and its --timeout. */
final class OverlaySource {
  @Parameters(index = "0", paramLabel = "SOURCE",
      description = "The overlay: a file, es://host:port/NAME (earlystart serve) or an http(s):// URL.")
  String source;

  @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "60s", converter = DurationConverter.class,
      description = "How long a network source may stay silent before the command fails (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  /**
   * Only the overlay's head (header and manifest): read from the file, or from one session of a network
   * source, which is closed before any segment is asked for.
   */
  OverlayHead head() throws IOException {
    if (!source.contains("://")) {
      try (OverlayFile f = OverlayFile.open(Path.of(source))) {
        return new OverlayHead(f.header(), f.manifest());
      }
    }
    try (SegmentSource src = Sources.open(source);
        SegmentSource.Session session = src.open(NO_SEGMENTS, timeout)) {
      return session.head();
    }
  }

  private static final SegmentSource.Sink NO_SEGMENTS = new SegmentSource.Sink() {
    @Override
    public void segment(int index, byte[] frame) {}

    @Override
    public void failed(Throwable cause) {}
  };

  /**
   * A local file is read directly; anything else ({@code es://}, {@code http(s)://}) through the
   * fetcher, which starts streaming at once.
   */
  OverlayReader open() throws IOException {
    if (!source.contains("://")) {
      return OverlayFile.open(Path.of(source));
    }
    SegmentSource src = Sources.open(source);
    try {
      SchedulerOptions options = SchedulerOptions.DEFAULTS.withGiveUpAfter(timeout);
      return new ScheduledOverlayReader(src, options, timeout);
    } catch (IOException | RuntimeException e) {
      src.close();
      throw e;
    }
  }
}
