package io.earlystart.cli;

import io.earlystart.fetcher.ScheduledOverlayReader;
import io.earlystart.fetcher.SchedulerOptions;
import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.Sources;
import io.earlystart.overlay.OverlayFile;
import io.earlystart.overlay.OverlayReader;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** Opens what a command names as its overlay SOURCE. Stateless. */
final class Overlays {
  private Overlays() {}

  /**
   * A local file is read directly; anything else ({@code es://}, {@code http(s)://}) through the
   * fetcher, which starts streaming at once.
   *
   * @param timeout how long a network source may stay silent
   */
  static OverlayReader open(String source, Duration timeout) throws IOException {
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
