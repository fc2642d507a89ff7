package io.earlystart.bench;

import io.earlystart.fetcher.ScheduledOverlayReader;
import io.earlystart.fetcher.SchedulerOptions;
import io.earlystart.fetcher.SegmentScheduler;
import io.earlystart.fetcher.client.ProtocolSource;
import io.earlystart.fetcher.client.Sources;
import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.synthesize.Synthesizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The whole overlay through the real {@link OverlayServer} on an emulated link (issue 3, "fetcher").
 *
 * <ul>
 *   <li>{@code stream}: {@code ProtocolSource} + {@code SegmentScheduler} (default options: 4 MiB
 *       window, SHA-256 check of every segment) from connect to the last verified segment; the applier
 *       drops the frames. Target: time / (overlay file size / rate) &lt;= 1.05.
 *   <li>{@code synthesize}: {@code Synthesizer.synthesize} (2 threads, no fsync) reading through a
 *       {@code ScheduledOverlayReader} over {@code es://127.0.0.1:PORT/example}, so decompression and
 *       apply overlap the transfer. Target: within 5 % of overlay bytes / rate. The outputs are compared
 *       with the originals after each sample, outside the timing.
 * </ul>
 *
 * The server runs in this JVM. Each sample prints a {@code [earlystart-bench]} line with its time and
 * the ratio to size / rate; the token bucket allows one 64 KiB (+64 B) burst, i.e. 14 ms at 38 Mbit/s.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@State(Scope.Benchmark)
public class StreamSynthesizeBenchmark {
  @Param({"38mbit:10ms", "1gbit:1ms"})
  public String link;

  private FetcherRig rig;
  private FetcherRig.Link shaped;
  private OverlayServer server;
  private long overlayBytes;
  private Path out;
  private long started;

  @Setup(Level.Trial)
  public void setup() throws IOException, InterruptedException {
    rig = FetcherRig.prepare();
    shaped = FetcherRig.Link.parse(link);
    overlayBytes = Files.size(rig.overlay);
    server = rig.serve(shaped);
    out = rig.work.dir.resolve("fetcher-synthesized");
  }

  @Setup(Level.Iteration)
  public void clean() throws IOException, InterruptedException {
    ExampleWorkload.deleteRecursively(out);
    EarlystartRuns.syncAll();
    started = System.nanoTime();
  }

  @TearDown(Level.Trial)
  public void stop() {
    server.close();
  }

  private void report(String what) {
    double t = (System.nanoTime() - started) / 1e9;
    if (shaped.bytesPerSecond() == 0) {
      ExampleWorkload.log(String.format("%s link=%s: %.3f s for %d bytes (%.1f MB/s)", what, link, t, overlayBytes,
          overlayBytes / t / 1e6));
      return;
    }
    double ideal = overlayBytes / (double) shaped.bytesPerSecond();
    ExampleWorkload.log(String.format("%s link=%s: %.3f s for %d bytes (%.1f MB/s); size/rate %.3f s; ratio %.3f",
        what, link, t, overlayBytes, overlayBytes / t / 1e6, ideal, t / ideal));
  }

  @Benchmark
  public long stream() throws Exception {
    AtomicLong applied = new AtomicLong();
    try (ProtocolSource source = new ProtocolSource("127.0.0.1", server.port(), FetcherRig.NAME);
        SegmentScheduler s = new SegmentScheduler(source, (seg, frame) -> applied.addAndGet(frame.length),
            SchedulerOptions.DEFAULTS, new BitSet())) {
      s.start();
      s.completion().get(10, TimeUnit.MINUTES);
      report("stream");
    }
    return applied.get();
  }

  @Benchmark
  public Object synthesize() throws Exception {
    Object summary;
    try (ScheduledOverlayReader r = new ScheduledOverlayReader(
        Sources.open("es://127.0.0.1:" + server.port() + "/" + FetcherRig.NAME), SchedulerOptions.DEFAULTS,
        Duration.ofSeconds(60))) {
      summary = Synthesizer.synthesize(r, rig.work.files.baseDisk(), rig.work.files.baseMemory(), out, 2, false,
          Progress.NONE);
    }
    report("synthesize");
    return summary;
  }

  @TearDown(Level.Iteration)
  public void check() throws IOException {
    if (Files.isDirectory(out)) {
      EarlystartRuns.checkSynthesized(rig.work, out, "synthesize over es://");
    }
  }
}
