package io.earlystart.bench;

import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.Segment;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
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
 * Demand latency while the background stream saturates the emulated link (issue 3, "fetcher").
 *
 * <p>The real {@link OverlayServer} runs in this JVM on 127.0.0.1 with the link's rate and delay and
 * serves the overlay of the 256 MiB example pair (1 MiB segments). A {@link RawProtocolClient}
 * (blocking socket, no netty) keeps {@code windowBytes} of background stream asked for ahead and,
 * after a random pause of up to {@code gapMillis}, asks for a random segment nobody asked for yet:
 * with DEMAND ({@code mode=preempt}) or appended to the stream with STREAM ({@code mode=fifo}, the
 * baseline), and waits until it is complete. A session ends when the stream has asked for every
 * segment (the window could no longer be full); the next session is a new connection. Demand latency
 * is the time from writing the request to the socket until the first PART of the demanded segment was
 * read completely (and, reported too, until its frame header and until its last byte).
 *
 * <p>One JMH sample ({@code SingleShotTime}) collects {@code demands} demand latencies; the JMH score
 * is the time that took and is <em>not</em> the result: the percentiles are printed as
 * {@code [earlystart-bench] demand ...} lines and written to {@code WORK/demand-MODE-LINK.txt}. The
 * first session of each trial (5 demands) warms the JIT and is not counted.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@State(Scope.Benchmark)
public class DemandLatencyBenchmark {
  @Param({"preempt", "fifo"})
  public String mode;

  @Param({"38mbit:10ms", "1gbit:1ms"})
  public String link;

  /** Demands measured per configuration. */
  @Param("100")
  public int demands;

  /** Background window: stream bytes asked for and not yet arrived (SchedulerOptions default 4 MiB). */
  @Param("4194304")
  public long windowBytes;

  /** Pause before each demand: uniform in [0, gapMillis]. */
  @Param("50")
  public int gapMillis;

  private FetcherRig rig;
  private FetcherRig.Link shaped;
  private OverlayServer server;
  private int[] lengths;
  private final Random random = new Random(42);
  private final List<RawProtocolClient.Sample> samples = new ArrayList<>();
  private long wireBytes;
  private double wireSeconds;
  private int sessions;

  @Setup
  public void setup() throws IOException, InterruptedException {
    rig = FetcherRig.prepare();
    shaped = FetcherRig.Link.parse(link);
    try (OverlayFile f = OverlayFile.open(rig.overlay)) {
      List<Segment> segs = f.manifest().segments();
      lengths = new int[segs.size()];
      long sum = 0;
      for (Segment s : segs) {
        lengths[s.index()] = s.length();
        sum += s.length();
      }
      ExampleWorkload.log(String.format("%d segments, %d bytes stored (mean %.0f), raw ~1 MiB each", lengths.length,
          sum, sum / (double) lengths.length));
    }
    server = rig.serve(shaped);
    // warm-up: one session of 5 demands, discarded
    List<RawProtocolClient.Sample> warm = new ArrayList<>();
    session(warm, 5);
  }

  /** One connection: demands until {@code want} samples are in {@code into} or the stream ran out. */
  private void session(List<RawProtocolClient.Sample> into, int want) throws IOException, InterruptedException {
    boolean preempt = mode.equals("preempt");
    try (RawProtocolClient c = new RawProtocolClient("127.0.0.1", server.port(), FetcherRig.NAME, lengths,
        windowBytes)) {
      c.awaitStreamed(1, 120_000); // the stream is flowing and the window is full
      while (into.size() < want) {
        if (gapMillis > 0) {
          Thread.sleep(random.nextInt(gapMillis + 1));
        }
        int seg = c.pickUnrequested(random);
        if (seg < 0) {
          break;
        }
        into.add(c.demand(seg, preempt, 120_000));
      }
      long[] t = c.throughput();
      if (into == samples) {
        wireBytes += t[0];
        wireSeconds += (System.nanoTime() - t[1]) / 1e9;
        sessions++;
      }
    }
  }

  @Benchmark
  public int collect() throws IOException, InterruptedException {
    while (samples.size() < demands) {
      session(samples, demands);
    }
    return samples.size();
  }

  @TearDown
  public void report() throws IOException {
    try {
      if (samples.isEmpty()) {
        return;
      }
      int n = samples.size();
      double[] hdr = new double[n];
      double[] first = new double[n];
      double[] last = new double[n];
      long minOutstanding = Long.MAX_VALUE;
      for (int i = 0; i < n; i++) {
        RawProtocolClient.Sample s = samples.get(i);
        hdr[i] = s.toFirstHeader();
        first[i] = s.toFirstPart();
        last[i] = s.toLast();
        minOutstanding = Math.min(minOutstanding, s.outstandingAtSend());
      }
      hdr = FetcherRig.sorted(hdr);
      first = FetcherRig.sorted(first);
      last = FetcherRig.sorted(last);
      double target = shaped.targetSeconds();
      StringBuilder b = new StringBuilder();
      b.append(String.format("demand mode=%s link=%s window=%d n=%d sessions=%d%n", mode, link, windowBytes, n,
          sessions));
      b.append(String.format("  first part complete  p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms%n",
          ms(FetcherRig.percentile(first, .5)), ms(FetcherRig.percentile(first, .99)), ms(first[n - 1])));
      b.append(String.format("  first part header    p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms%n",
          ms(FetcherRig.percentile(hdr, .5)), ms(FetcherRig.percentile(hdr, .99)), ms(hdr[n - 1])));
      b.append(String.format("  last byte of segment p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms%n",
          ms(FetcherRig.percentile(last, .5)), ms(FetcherRig.percentile(last, .99)), ms(last[n - 1])));
      b.append(String.format("  target p99 <= 2 RTT + 64 KiB / rate + 1 ms = %.2f ms%n", ms(target)));
      b.append(String.format("  background stream: min outstanding at a demand %d bytes; wire %.2f MB/s over"
          + " %.1f s = %.3f of the link rate%n", minOutstanding, wireBytes / wireSeconds / 1e6, wireSeconds,
          wireBytes / wireSeconds / shaped.bytesPerSecond()));
      System.out.print(b.toString().lines().map(l -> "[earlystart-bench] " + l + "\n")
          .reduce("", String::concat));
      System.out.flush();
      Path file = rig.work.dir.resolve("demand-" + mode + "-" + link.replace(':', '_') + ".txt");
      StringBuilder raw = new StringBuilder(b);
      raw.append("segment length to_first_header_ms to_first_part_ms to_last_ms outstanding_at_send\n");
      for (RawProtocolClient.Sample s : samples) {
        raw.append(String.format("%d %d %.3f %.3f %.3f %d%n", s.segment(), s.length(), ms(s.toFirstHeader()),
            ms(s.toFirstPart()), ms(s.toLast()), s.outstandingAtSend()));
      }
      Files.writeString(file, raw.toString(), StandardCharsets.UTF_8);
    } finally {
      if (server != null) {
        server.close();
      }
    }
  }

  private static double ms(double seconds) {
    return seconds * 1e3;
  }
}
