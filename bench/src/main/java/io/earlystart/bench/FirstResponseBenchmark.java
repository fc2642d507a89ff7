package io.earlystart.bench;

import io.earlystart.fetcher.ScheduledOverlayReader;
import io.earlystart.fetcher.SchedulerOptions;
import io.earlystart.fetcher.SegmentScheduler;
import io.earlystart.fetcher.client.Sources;
import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.fetcher.server.ServerOptions;
import io.earlystart.fusefs.EarlyStart;
import io.earlystart.fusefs.fuse.MountOptions;
import io.earlystart.fusefs.fuse.MountTable;
import io.earlystart.ordering.Trace;
import io.earlystart.ordering.TraceOrder;
import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.OverlayReorderer;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.OverlayHeader;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.synthesize.Synthesizer;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * Time to the first response (issue 4): the {@link FirstResponseWorkload} trace, replayed up to its
 * {@value FirstResponseReplay#MARK} mark by {@link FirstResponseReplay}, with the overlay coming over
 * an emulated link from the real {@link OverlayServer} (in this JVM, 127.0.0.1, shaped as
 * {@code earlystart serve --rate 38mbit --delay 10ms}: 20 ms RTT). One sample, {@code @Param mode}:
 *
 * <ul>
 *   <li>{@code earlystart}: {@code EarlyStart.open} (connect, head, base check, attachments), then
 *       {@code EarlyStart.mount} (the stream starts, then the mount with the CLI's options), as {@code
 *       earlystart mount} does, then the replay through the mount; the timer stops at the mark. Bytes
 *       fetched and demands are the scheduler's counters at that moment.
 *   <li>{@code synthesize}: classic VM synthesis first: {@code Synthesizer.synthesize} over
 *       {@code es://} with the CLI defaults (all cores, <b>fsync on</b>) into an empty directory, then
 *       the replay against the synthesized files. Bytes fetched: every segment.
 *   <li>{@code local}: the replay against the local customised images (in the page cache): the floor.
 *   <li>{@code synthesize-nosync} (extra, not in the default run): as {@code synthesize} with
 *       {@code --no-sync}.
 * </ul>
 *
 * Every sample starts cold on the client side: a new connection, an empty cache directory, a
 * synthesize into a new directory; the one shaped server is shared by all samples of a trial, with a
 * pause after each sample so that nothing of the last connection is still on the link. The replay's
 * CRC32C is checked against the local images after each sample (outside the timing).
 *
 * <p>Reported: the JMH score (seconds, {@code SingleShotTime}); what was fetched by the mark in one
 * {@code [earlystart-bench] first-response ...} line per sample, a summary line per trial and
 * {@code WORK/first-response/samples-MODE-LINK.tsv}; the trace's size against the overlay and the
 * link once per trial. Not {@code @AuxCounters}: in {@code SingleShotTime} JMH's final table adds
 * EVENTS counters up over the samples, which reads like bytes per sample.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 1)
@Measurement(iterations = 5)
@State(Scope.Benchmark)
public class FirstResponseBenchmark {
  static final String EARLYSTART = "earlystart";
  static final String SYNTHESIZE = "synthesize";
  static final String SYNTHESIZE_NOSYNC = "synthesize-nosync";
  static final String LOCAL = "local";
  static final String ORDER_OFFSET = "offset";
  static final String ORDER_TRACE = "trace";
  private static final Duration DISK_WAIT = Duration.ofSeconds(30);
  private static final Duration MEMORY_WAIT = Duration.ofMinutes(2);
  private static final Duration SEGMENT_DEADLINE = Duration.ofSeconds(60);
  private static final long SETTLE_MILLIS = 500;

  /** Disk and memory size of the example pair, MiB each. */
  @Param("256")
  public int sizeMiB;

  @Param({EARLYSTART, SYNTHESIZE, LOCAL})
  public String mode;

  /**
   * Stream order of the served overlay: {@code offset} (create's default) or {@code trace}: the same
   * overlay reordered by the recorded trace ({@code earlystart reorder}), as {@code create --trace}
   * would make it. The trace that orders is the trace that is replayed: the best case of a recorded
   * start-up, as in VM synthesis's own evaluation.
   */
  @Param({ORDER_OFFSET})
  public String order;

  /**
   * Extra libfuse options of the early-start mount (as {@code earlystart mount -o}), comma-separated;
   * {@code none} for the CLI defaults. {@code max_readahead=4096} stops the kernel's readahead from
   * turning one read into requests for chunks the start-up never needs.
   */
  @Param({"none"})
  public String fuseOptions;

  /** {@code RATE:DELAY} (one-way delay), as {@link FetcherRig.Link}. */
  @Param("38mbit:10ms")
  public String link;

  private ExampleWorkload work;
  private Path overlay;
  private long overlayBytes;
  private FetcherRig.Link shaped;
  private FirstResponseReplay replay;
  private long expectedCrc;
  private OverlayServer server;
  private Path mnt;
  private Path cacheDir;
  private Path synthDir;
  private long headBytes;
  private double neededSeconds;
  private Path samplesFile;
  private final StringBuilder samples = new StringBuilder();
  private final List<long[]> measured = new ArrayList<>(); // {nanos, bytes, segments, demands}

  /**
   * Unmounts on SIGTERM / SIGINT (e.g. Ctrl-C of the JMH run). A JVM that dies with a file of its own
   * mount open (the replay's channels) hangs in the kernel at exit, waiting for its own dead FUSE
   * threads, until the connection is aborted; unmounting first ends the FUSE session, so exit is clean.
   * SIGKILL cannot be covered: see {@link FirstResponseWorkload#removeStaleMount}.
   */
  private Thread shutdownHook;

  // one sample; guarded by this (the shutdown hook closes them from another thread)
  private EarlyStart es;
  private SegmentScheduler.Stats stats;
  private long crc;
  private long elapsedNanos;
  private boolean warmup;

  @Setup(Level.Trial)
  public void setup() throws IOException, InterruptedException {
    switch (mode) {
      case EARLYSTART, SYNTHESIZE, SYNTHESIZE_NOSYNC, LOCAL -> { }
      default -> throw new IllegalArgumentException("unknown mode " + mode + ": " + EARLYSTART + ", " + SYNTHESIZE
          + ", " + SYNTHESIZE_NOSYNC + " or " + LOCAL);
    }
    shaped = FetcherRig.Link.parse(link);
    work = ExampleWorkload.prepare(sizeMiB);
    Path dir = Files.createDirectories(work.dir.resolve("first-response"));
    Path served = dir.resolve("served");
    overlay = served.resolve(EarlystartRuns.OVERLAY);
    OverlayHeader header;
    Manifest manifest;
    try (OverlayFile f = openOrCreate(served)) {
      header = f.header();
      manifest = f.manifest();
    }
    overlayBytes = Files.size(overlay);
    String id = new OverlayHead(header, manifest).id();
    Path runDir = Files.createDirectories(dir.resolve("run"));
    mnt = Files.createDirectories(runDir.resolve("mnt"));
    FirstResponseWorkload.removeStaleMount(mnt);
    cacheDir = runDir.resolve("cache");
    synthDir = runDir.resolve("synthesized");
    Trace trace = FirstResponseWorkload.ensureTrace(work, overlay, id, manifest,
        FirstResponseWorkload.traceFile(dir), runDir);
    if (order.equals(ORDER_TRACE)) {
      served = dir.resolve("served-trace");
      overlay = served.resolve(EarlystartRuns.OVERLAY);
      if (!Files.isRegularFile(overlay) || Files.getLastModifiedTime(overlay).compareTo(
          Files.getLastModifiedTime(FirstResponseWorkload.traceFile(dir))) < 0) {
        ExampleWorkload.freshDir(served);
        var r = OverlayReorderer.reorder(dir.resolve("served").resolve(EarlystartRuns.OVERLAY),
            TraceOrder.of(List.of(trace)), overlay, CreateOptions.DEFAULT_SEGMENT_SIZE, CreateOptions.DEFAULT_LEVEL,
            Runtime.getRuntime().availableProcessors());
        ExampleWorkload.log("reordered the served overlay by the trace: " + r);
      }
      try (OverlayFile f = OverlayFile.open(overlay)) {
        header = f.header();
        manifest = f.manifest();
      }
      overlayBytes = Files.size(overlay);
    } else if (!order.equals(ORDER_OFFSET)) {
      throw new IllegalArgumentException("unknown order " + order + ": " + ORDER_OFFSET + " or " + ORDER_TRACE);
    }
    replay = FirstResponseReplay.of(trace);
    FirstResponseReplay.Needed needed = replay.needed(header, manifest);
    ExampleWorkload.log(replay.describe(needed, manifest, overlayBytes, shaped.bytesPerSecond()));
    headBytes = needed.headBytes() + needed.attachmentBytes();
    neededSeconds = shaped.bytesPerSecond() > 0 ? needed.total() / (double) shaped.bytesPerSecond() : 0;
    samplesFile = dir.resolve("samples-" + mode + "-" + order + "-" + fuseOptions.replace(',', '+').replace("=", "")
        + "-" + link.replace(':', '_') + ".tsv");
    samples.setLength(0);
    samples.append("# FirstResponseBenchmark mode=").append(mode).append(" sizeMiB=").append(sizeMiB).append(" link=")
        .append(link).append(" order=").append(order).append(" overlayBytes=").append(overlayBytes).append(" neededBytes=").append(needed.total())
        .append("\n# sample\tseconds\tsegmentBytesFetched\tsegmentsFetched\tdemands\n");
    measured.clear();
    expectedCrc = replayFiles(work.files.disk(), work.files.memory());
    shutdownHook = new Thread(() -> {
      try {
        closeSample(null);
      } catch (IOException | RuntimeException e) {
        System.err.println("[earlystart-bench] unmount at shutdown failed: " + e);
      }
    }, "first-response-unmount");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
    if (!mode.equals(LOCAL)) {
      server = OverlayServer.start(ServerOptions.of(served).withBind("127.0.0.1", 0)
          .withRate(shaped.bytesPerSecond()).withDelay(shaped.delay()));
    }
  }

  /** The served overlay (CLI defaults), created with the CLI in a child JVM when missing or unreadable. */
  private OverlayFile openOrCreate(Path served) throws IOException, InterruptedException {
    if (Files.isRegularFile(overlay)) {
      try {
        return OverlayFile.open(overlay);
      } catch (IOException e) {
        ExampleWorkload.log("unreadable overlay " + overlay + " (" + e.getMessage() + "): creating it again");
      }
    }
    ExampleWorkload.log("creating the served overlay " + overlay);
    ExampleWorkload.freshDir(served);
    EarlystartRuns.ensureBaseIndex(work);
    EarlystartRuns.createWithCli(work, served);
    return OverlayFile.open(overlay);
  }

  @Setup(Level.Iteration)
  public void clean(IterationParams iteration) throws IOException, InterruptedException {
    warmup = iteration.getType() == IterationType.WARMUP;
    MountTable.cleanStale(mnt);
    ExampleWorkload.freshDir(cacheDir);
    ExampleWorkload.deleteRecursively(synthDir);
    EarlystartRuns.syncAll();
    stats = null;
    crc = -1;
    elapsedNanos = -1;
  }

  @Benchmark
  public long firstResponse() throws Exception {
    long t0 = System.nanoTime();
    try {
      crc = switch (mode) {
        case EARLYSTART -> earlyStart();
        case SYNTHESIZE -> synthesizeThenReplay(true);
        case SYNTHESIZE_NOSYNC -> synthesizeThenReplay(false);
        default -> replayFiles(work.files.disk(), work.files.memory());
      };
    } catch (Throwable e) {
      closeSample(e);
      throw e;
    }
    elapsedNanos = System.nanoTime() - t0;
    return crc;
  }

  private long earlyStart() throws IOException, InterruptedException {
    EarlyStart.Options options = EarlyStart.Options.of(work.files.baseDisk(), work.files.baseMemory(), source(),
        cacheDir).withWaits(DISK_WAIT, MEMORY_WAIT);
    EarlyStart opened = EarlyStart.open(options);
    synchronized (this) {
      es = opened;
    }
    List<String> extra = fuseOptions.equals("none") ? List.of() : List.of(fuseOptions.split(","));
    Path mp = opened.mount(mnt, MountOptions.writable(extra)); // as the CLI: the stream starts, then the mount
    long c = replayFiles(mp.resolve(Image.DISK.fileName), mp.resolve(Image.MEMORY.fileName));
    stats = opened.scheduler().stats();
    return c;
  }

  private long synthesizeThenReplay(boolean sync) throws IOException, InterruptedException {
    try (ScheduledOverlayReader r = new ScheduledOverlayReader(Sources.open(source()), SchedulerOptions.DEFAULTS,
        SEGMENT_DEADLINE)) {
      Synthesizer.synthesize(r, work.files.baseDisk(), work.files.baseMemory(), synthDir,
          Runtime.getRuntime().availableProcessors(), sync, Progress.NONE);
      stats = r.scheduler().stats();
    }
    return replayFiles(synthDir.resolve(Image.DISK.fileName), synthDir.resolve(Image.MEMORY.fileName));
  }

  private String source() {
    return "es://127.0.0.1:" + server.port() + "/" + FetcherRig.NAME;
  }

  private long replayFiles(Path disk, Path memory) throws IOException {
    try (FileChannel d = FileChannel.open(disk, StandardOpenOption.READ);
        FileChannel m = FileChannel.open(memory, StandardOpenOption.READ)) {
      return replay.replay(d, m);
    }
  }

  @TearDown(Level.Iteration)
  public void after() throws IOException, InterruptedException {
    closeSample(null);
    if (server != null) {
      Thread.sleep(SETTLE_MILLIS); // the closed connection's last bytes leave the shared token bucket
    }
    if (elapsedNanos < 0) {
      return; // the sample failed; JMH reports its exception
    }
    if (crc != expectedCrc) {
      throw new IllegalStateException(String.format(Locale.ROOT,
          "mode %s read other bytes than the local images: CRC32C %08x, expected %08x", mode, crc, expectedCrc));
    }
    long bytes = stats == null ? 0 : stats.bytesFetched();
    long segments = stats == null ? 0 : stats.segmentsFetched();
    long demands = stats == null ? 0 : stats.demands();
    String name;
    if (warmup) {
      name = "warm-up";
    } else {
      measured.add(new long[] {elapsedNanos, bytes, segments, demands});
      name = "sample " + measured.size();
    }
    samples.append(warmup ? "# warm-up" : String.valueOf(measured.size())).append('\t')
        .append(String.format(Locale.ROOT, "%.6f\t%d\t%d\t%d%n", elapsedNanos / 1e9, bytes, segments, demands));
    String fetched = stats == null ? "nothing fetched"
        : String.format(Locale.ROOT, "fetched %d segment bytes in %d segments (%d demands) + %d head and attachments"
            + " by the mark", bytes, segments, demands, headBytes);
    ExampleWorkload.log(String.format(Locale.ROOT,
        "first-response mode=%s order=%s fuse=%s size=%dMiB link=%s %s: %.3f s; %s; needed/rate %.3f s",
        mode, order, fuseOptions, sizeMiB, link, name, elapsedNanos / 1e9, fetched, neededSeconds));
  }

  /** Closes the early start (it unmounts first); its failure is thrown, or added to {@code cause}. */
  private synchronized void closeSample(Throwable cause) throws IOException {
    EarlyStart owned = es;
    es = null;
    if (owned == null) {
      return;
    }
    try {
      owned.close();
    } catch (IOException | RuntimeException x) {
      if (cause == null) {
        throw x;
      }
      cause.addSuppressed(x);
    }
  }

  /** Median, min, max over the measured samples of the trial (not the warm-up), and the .tsv file. */
  private void summarize() throws IOException {
    if (measured.isEmpty()) {
      return;
    }
    Files.writeString(samplesFile, samples);
    long[] t = measured.stream().mapToLong(m -> m[0]).sorted().toArray();
    long[] b = measured.stream().mapToLong(m -> m[1]).sorted().toArray();
    long[] d = measured.stream().mapToLong(m -> m[3]).sorted().toArray();
    ExampleWorkload.log(String.format(Locale.ROOT,
        "first-response summary mode=%s order=%s fuse=%s size=%dMiB link=%s, %d samples: time median %.3f s (min %.3f,"
            + " max %.3f); segment bytes fetched by the mark median %d (min %d, max %d); demands median %d;"
            + " needed/rate %.3f s; overlay %d bytes; samples in %s",
        mode, order, fuseOptions, sizeMiB, link, t.length, t[t.length / 2] / 1e9, t[0] / 1e9, t[t.length - 1] / 1e9, b[b.length / 2], b[0],
        b[b.length - 1], d[d.length / 2], neededSeconds, overlayBytes, samplesFile));
  }

  @TearDown(Level.Trial)
  public void stop() throws IOException {
    try {
      closeSample(null);
      summarize();
    } finally {
      if (shutdownHook != null) {
        try {
          Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
          // already shutting down: the hook runs
        }
        shutdownHook = null;
      }
      if (server != null) {
        server.close();
        server = null;
      }
      if (mnt != null && MountTable.isMounted(mnt)) {
        throw new IllegalStateException("still mounted after the trial: " + mnt);
      }
    }
  }
}
