package io.earlystart.bench;

import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.fetcher.server.ServerOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

/**
 * What the fetcher benchmarks share: the overlay of the 256 MiB example pair (made once with the
 * CLI into {@code WORK/prepared-fetcher/example.overlay} and reused), the emulated links, and the real
 * {@link OverlayServer} serving that directory in the benchmark's own JVM on 127.0.0.1, a free port.
 */
final class FetcherRig {
  static final int SIZE_MIB = 256;
  static final String NAME = "example";

  /**
   * An emulated link as the issue writes it: {@code RATE:DELAY}, e.g. {@code 38mbit:10ms};
   * {@code unlimited:0ms} is no shaping at all (what loopback, the server and the client manage).
   */
  record Link(String spec, long bytesPerSecond, Duration delay) {
    static Link parse(String spec) {
      String[] p = spec.split(":");
      return new Link(spec, rate(p[0]), delay(p[1]));
    }

    /** Round trip added by the emulation: twice the one-way delay. */
    double rttSeconds() {
      return 2 * delay.toNanos() / 1e9;
    }

    /** The target for demand latency: 2 RTT + 64 KiB / rate + 1 ms. */
    double targetSeconds() {
      return 2 * rttSeconds() + (64 << 10) / (double) bytesPerSecond + 0.001;
    }

    private static long rate(String s) {
      if (s.equalsIgnoreCase("unlimited")) {
        return 0; // ServerOptions: 0 = no rate limit
      }
      String t = s.toLowerCase(java.util.Locale.ROOT);
      if (!t.endsWith("bit")) {
        throw new IllegalArgumentException("rate like 38mbit expected: " + s);
      }
      t = t.substring(0, t.length() - 3);
      long mult = 1;
      switch (t.charAt(t.length() - 1)) {
        case 'k' -> mult = 1_000L;
        case 'm' -> mult = 1_000_000L;
        case 'g' -> mult = 1_000_000_000L;
        default -> { }
      }
      if (mult != 1) {
        t = t.substring(0, t.length() - 1);
      }
      return Long.parseLong(t) * mult / 8;
    }

    private static Duration delay(String s) {
      if (s.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
      }
      throw new IllegalArgumentException("delay like 10ms expected: " + s);
    }
  }

  final ExampleWorkload work;
  final Path dir;
  final Path overlay;

  private FetcherRig(ExampleWorkload work, Path dir, Path overlay) {
    this.work = work;
    this.dir = dir;
    this.overlay = overlay;
  }

  /** The example pair and its overlay (created with the CLI defaults if not there yet). */
  static FetcherRig prepare() throws IOException, InterruptedException {
    ExampleWorkload work = ExampleWorkload.prepare(SIZE_MIB);
    Path dir = work.dir.resolve("prepared-fetcher");
    Path overlay = dir.resolve(EarlystartRuns.OVERLAY);
    if (!Files.isRegularFile(overlay)) {
      ExampleWorkload.log("creating the served overlay " + overlay);
      dir = work.freshDir("prepared-fetcher");
      EarlystartRuns.createWithCli(work, dir);
    }
    ExampleWorkload.log("serving " + overlay + " (" + Files.size(overlay) + " bytes)");
    return new FetcherRig(work, dir, overlay);
  }

  /** The real server on 127.0.0.1 (free port), shaped as {@code link}. */
  OverlayServer serve(Link link) throws IOException {
    return serve(dir, link);
  }

  /** The real server for the overlays in {@code dir} on 127.0.0.1 (free port), shaped as {@code link}. */
  static OverlayServer serve(Path dir, Link link) throws IOException {
    return OverlayServer.start(ServerOptions.of(dir).withBind("127.0.0.1", 0).withRate(link.bytesPerSecond())
        .withDelay(link.delay()));
  }

  /** Nearest-rank percentile of sorted values. */
  static double percentile(double[] sorted, double p) {
    int rank = (int) Math.ceil(p * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  static double[] sorted(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s;
  }
}
