package io.earlystart.bench;

import io.earlystart.overlay.base.BaseIndex;
import io.earlystart.overlay.create.CreateSummary;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.synthesize.Synthesizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * earlystart {@code create} and full {@code synthesize} side by side with the tool chain of Ha et
 * al. (xdelta3 -9, then xz -9; back with xz -d, then xdelta3 -d), on the example VM pair of
 * {@code sizeMiB} MiB disk + {@code sizeMiB} MiB memory ({@link ExampleWorkload}).
 *
 * <ul>
 *   <li>{@code create}: customised images -> overlay. For earlystart the base index cache
 *       ({@code BASE.esidx}) is present, as when a user creates again against the same base; the
 *       setup builds it if missing and the benchmark fails if create did not use it.
 *   <li>{@code createColdIndex}: earlystart create with the base index cache deleted before each
 *       iteration (the first create against a new base: both bases are read and hashed too).
 *   <li>{@code synthesize}: bases + overlay -> customised images, vmstate and vm.json (all checked
 *       byte for byte against the originals after each iteration, outside the timing). earlystart
 *       finds its base index cache (it verifies the bases' SHA-256 through it) and fsyncs every
 *       file it writes, as the CLI does by default; the chain's tools do not fsync.
 *   <li>{@code synthesizeNoSync}: earlystart synthesize without the fsync ({@code --no-sync}), the
 *       same durability as the chain's.
 *   <li>{@code baseCopyFloor}: what no synthesize on this file system can beat, both bases copied by
 *       {@code cp}, with and without fsync ({@link Floor}).
 * </ul>
 *
 * <p>Defaults: one iteration in each of 3 forks, no warm-up, so every sample is the first run of the
 * engine in a fresh JVM, as each CLI run is (JVM start itself is not timed; {@code -wi 1 -i 5 -f 1}
 * gives the steady state of a long-lived JVM instead). Each iteration writes into an emptied
 * directory, after a {@code sync} so that no earlier writes are flushed during it; all inputs are in
 * the page cache (the same for every tool). The synthesize setup makes its input first (earlystart: an
 * overlay, by the CLI in a child JVM; the chain: the .xz files, kept in the workload directory for
 * later runs). Overlay sizes are deterministic: the first create iteration prints them
 * ({@code [earlystart-bench] size tool=...}) and writes them to {@code sizes-TOOL.txt} in the
 * workload directory, where {@link ResultsTable} finds them. Tools besides the defaults:
 * {@code xdelta3+xz-2proc} (disk, memory and attachment chains run at the same time, one process
 * each) and {@code xdelta3+xz-fullwin} (xdelta3 {@code -B} = image size); see {@link XdeltaXzChain}.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@Fork(3)
public class CreateSynthesizeBenchmark {
  static final String EARLYSTART = "earlystart";
  private static final String MARKER = ".complete";

  /** One tool on one example pair. */
  @State(Scope.Benchmark)
  public static class Peer {
    @Param({EARLYSTART, "xdelta3+xz"})
    public String tool;

    @Param("256")
    public int sizeMiB;

    ExampleWorkload work;
    XdeltaXzChain chain;
    /** The overlay (earlystart) or the directory of .xz files (chain) that synthesize reads. */
    Path prepared;
    Path out;
    long createdSize = -1;

    @Setup(Level.Trial)
    public void setUpTrial(BenchmarkParams params) throws IOException, InterruptedException {
      chain = chain(tool);
      work = ExampleWorkload.prepare(sizeMiB);
      if (isEarlystart()) {
        // create is measured with it present; synthesize checks the bases through it
        EarlystartRuns.ensureBaseIndex(work);
      }
      if (isSynthesize(params)) {
        prepared = isEarlystart() ? prepareOverlay() : prepareDeltas();
        ExampleWorkload.log("synthesize reads " + describe(overlayFiles(prepared)));
      }
      ExampleWorkload.log("benchmark " + params.getBenchmark() + " tool=" + tool + ", "
          + Runtime.getRuntime().availableProcessors() + " cores");
    }

    @Setup(Level.Iteration)
    public void emptyOutput() throws IOException, InterruptedException {
      out = work.freshDir("out-" + safe(tool));
      EarlystartRuns.syncAll();
    }

    @TearDown(Level.Iteration)
    public void check(BenchmarkParams params) throws IOException {
      if (isSynthesize(params)) {
        EarlystartRuns.checkSynthesized(work, out, tool);
        return;
      }
      List<Path> files = overlayFiles(isEarlystart() ? out.resolve(EarlystartRuns.OVERLAY) : out);
      long size = totalSize(files);
      if (createdSize < 0) {
        ExampleWorkload.log("size tool=" + tool + ": " + describe(files));
        Files.writeString(work.dir.resolve("sizes-" + safe(tool) + ".txt"), size + "\n", StandardCharsets.UTF_8);
        createdSize = size;
      } else if (size != createdSize) {
        ExampleWorkload.log("WARNING: tool=" + tool + " made " + size + " bytes, an earlier iteration "
            + createdSize);
      }
    }

    @TearDown(Level.Trial)
    public void cleanUp() throws IOException {
      ExampleWorkload.deleteRecursively(work.dir.resolve("out-" + safe(tool)));
    }

    boolean isEarlystart() {
      return chain == null;
    }

    /** The overlay: the file itself (earlystart), or the .xz files in a directory (chain). */
    List<Path> overlayFiles(Path overlay) {
      return isEarlystart() ? List.of(overlay) : XdeltaXzChain.overlayFiles(work.files, overlay);
    }

    String describe(List<Path> files) throws IOException {
      StringBuilder parts = new StringBuilder();
      for (Path f : files) {
        parts.append(parts.length() == 0 ? "" : " + ").append(f.getFileName()).append(' ').append(Files.size(f));
      }
      long total = totalSize(files);
      long input = 2 * work.imageSize;
      return String.format("%s = %d bytes (%.2f%% of the %d bytes of customised images)", parts, total,
          100.0 * total / input, input);
    }

    /** Made anew in every trial: seconds, and tied to the code under test. */
    private Path prepareOverlay() throws IOException, InterruptedException {
      return EarlystartRuns.createWithCli(work, work.freshDir("prepared-" + EARLYSTART));
    }

    private Path prepareDeltas() throws IOException, InterruptedException {
      Path dir = work.dir.resolve("prepared-" + safe(tool));
      Path marker = dir.resolve(MARKER);
      if (Files.isRegularFile(marker)) {
        ExampleWorkload.log("reusing the " + tool + " deltas in " + dir);
        return dir;
      }
      ExampleWorkload.log("making the " + tool + " deltas that synthesize reads, in " + dir);
      dir = work.freshDir("prepared-" + safe(tool));
      chain.create(work.files, work.imageSize, dir);
      Files.writeString(marker, tool + "\n", StandardCharsets.UTF_8);
      return dir;
    }
  }

  /** earlystart create without the base index cache. */
  @State(Scope.Benchmark)
  public static class ColdIndex {
    @Param("256")
    public int sizeMiB;

    ExampleWorkload work;
    Path out;

    @Setup(Level.Trial)
    public void setUpTrial() throws IOException, InterruptedException {
      work = ExampleWorkload.prepare(sizeMiB);
    }

    @Setup(Level.Iteration)
    public void dropCache() throws IOException, InterruptedException {
      Files.deleteIfExists(BaseIndex.cachePath(work.files.baseDisk()));
      Files.deleteIfExists(BaseIndex.cachePath(work.files.baseMemory()));
      out = work.freshDir("out-" + EARLYSTART + "-cold");
      EarlystartRuns.syncAll();
    }

    @TearDown(Level.Trial)
    public void cleanUp() throws IOException {
      ExampleWorkload.deleteRecursively(work.dir.resolve("out-" + EARLYSTART + "-cold"));
    }
  }

  /** earlystart synthesize without fsync of its outputs ({@code synthesize --no-sync}). */
  @State(Scope.Benchmark)
  public static class NoSync {
    @Param("256")
    public int sizeMiB;

    ExampleWorkload work;
    Path prepared;
    Path out;

    @Setup(Level.Trial)
    public void setUpTrial() throws IOException, InterruptedException {
      work = ExampleWorkload.prepare(sizeMiB);
      EarlystartRuns.ensureBaseIndex(work);
      prepared = EarlystartRuns.createWithCli(work, work.freshDir("prepared-" + EARLYSTART + "-nosync"));
    }

    @Setup(Level.Iteration)
    public void emptyOutput() throws IOException, InterruptedException {
      out = work.freshDir("out-" + EARLYSTART + "-nosync");
      EarlystartRuns.syncAll();
    }

    @TearDown(Level.Iteration)
    public void check() throws IOException {
      EarlystartRuns.checkSynthesized(work, out, EARLYSTART + " --no-sync");
    }

    @TearDown(Level.Trial)
    public void cleanUp() throws IOException {
      ExampleWorkload.deleteRecursively(work.dir.resolve("out-" + EARLYSTART + "-nosync"));
    }
  }

  /**
   * The floor under any synthesize on a file system without reflinks: both base images copied into new
   * sparse files by {@code cp} (one process per image, at the same time; the kernel copies, nothing is
   * decoded), then, for {@code cp+fsync}, fsynced by {@code sync FILE}. A synthesize must write at least
   * the unchanged base data (here most of the images), so no synthesize can take less than this.
   */
  @State(Scope.Benchmark)
  public static class Floor {
    @Param({"cp", "cp+fsync"})
    public String floor;

    @Param("256")
    public int sizeMiB;

    ExampleWorkload work;
    Path out;

    @Setup(Level.Trial)
    public void setUpTrial() throws IOException, InterruptedException {
      ExternalTool.require("cp", "coreutils");
      if (!floor.equals("cp") && !floor.equals("cp+fsync")) {
        throw new IllegalArgumentException("unknown floor " + floor + "; use cp or cp+fsync");
      }
      work = ExampleWorkload.prepare(sizeMiB);
    }

    @Setup(Level.Iteration)
    public void emptyOutput() throws IOException, InterruptedException {
      out = work.freshDir("out-floor");
      EarlystartRuns.syncAll();
    }

    @TearDown(Level.Trial)
    public void cleanUp() throws IOException {
      ExampleWorkload.deleteRecursively(work.dir.resolve("out-floor"));
    }

    List<List<ExternalTool.Step>> pipelines() {
      List<List<ExternalTool.Step>> all = new java.util.ArrayList<>();
      for (Path base : List.of(work.files.baseDisk(), work.files.baseMemory())) {
        Path copy = out.resolve(base.getFileName());
        List<ExternalTool.Step> steps = new java.util.ArrayList<>();
        steps.add(ExternalTool.Step.of(null, "cp", "--sparse=always", "--reflink=never", base.toString(),
            copy.toString()));
        if (floor.equals("cp+fsync")) {
          steps.add(ExternalTool.Step.of(null, "sync", copy.toString()));
        }
        all.add(steps);
      }
      return all;
    }
  }

  @Benchmark
  public Object baseCopyFloor(Floor f) throws IOException, InterruptedException {
    ExternalTool.runAll(f.pipelines(), true);
    return f.out;
  }

  @Benchmark
  public Object create(Peer p) throws IOException, InterruptedException {
    if (p.isEarlystart()) {
      Path overlay = p.out.resolve(EarlystartRuns.OVERLAY);
      CreateSummary s = OverlayCreator.create(EarlystartRuns.options(p.work, overlay), Progress.NONE);
      if (!s.baseIndexCached()) {
        throw new IllegalStateException("create rebuilt the base index: the cached case was not measured");
      }
      return s;
    }
    return p.chain.create(p.work.files, p.work.imageSize, p.out);
  }

  @Benchmark
  public Object createColdIndex(ColdIndex c) throws IOException, InterruptedException {
    Path overlay = c.out.resolve(EarlystartRuns.OVERLAY);
    CreateSummary s = OverlayCreator.create(EarlystartRuns.options(c.work, overlay), Progress.NONE);
    if (s.baseIndexCached()) {
      throw new IllegalStateException("create found a base index cache: the cold case was not measured");
    }
    return s;
  }

  @Benchmark
  public Object synthesize(Peer p) throws IOException, InterruptedException {
    if (p.isEarlystart()) {
      try (OverlayFile overlay = OverlayFile.open(p.prepared)) {
        return Synthesizer.synthesize(overlay, p.work.files.baseDisk(), p.work.files.baseMemory(), p.out,
            Runtime.getRuntime().availableProcessors(), Progress.NONE);
      }
    }
    p.chain.synthesize(p.work.files, p.work.imageSize, p.prepared, p.out);
    return p.out;
  }

  @Benchmark
  public Object synthesizeNoSync(NoSync n) throws IOException, InterruptedException {
    try (OverlayFile overlay = OverlayFile.open(n.prepared)) {
      return Synthesizer.synthesize(overlay, n.work.files.baseDisk(), n.work.files.baseMemory(), n.out,
          Runtime.getRuntime().availableProcessors(), false, Progress.NONE);
    }
  }

  static XdeltaXzChain chain(String tool) {
    switch (tool) {
      case EARLYSTART:
        return null;
      case "xdelta3+xz":
        XdeltaXzChain.requireTools();
        return new XdeltaXzChain(false, false);
      case "xdelta3+xz-2proc":
        XdeltaXzChain.requireTools();
        return new XdeltaXzChain(true, false);
      case "xdelta3+xz-fullwin":
        XdeltaXzChain.requireTools();
        return new XdeltaXzChain(false, true);
      default:
        throw new IllegalArgumentException("unknown tool " + tool
            + "; use earlystart, xdelta3+xz, xdelta3+xz-2proc or xdelta3+xz-fullwin");
    }
  }

  static long totalSize(List<Path> files) throws IOException {
    long n = 0;
    for (Path f : files) {
      n += Files.size(f);
    }
    return n;
  }

  static boolean isSynthesize(BenchmarkParams params) {
    return params.getBenchmark().endsWith(".synthesize");
  }

  static String safe(String tool) {
    return tool.replace('+', '_');
  }
}
