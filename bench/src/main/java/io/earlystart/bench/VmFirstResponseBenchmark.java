package io.earlystart.bench;

import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.ordering.Trace;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
 * Issue 5's benchmark, extended by issue 12: the first answer of a real VM under stock QEMU (TCG), with
 * the overlay coming from the real {@link OverlayServer} in this JVM shaped like {@code earlystart serve
 * --rate R --delay D} ({@code link=R:D}, D one way: {@code 38mbit:10ms} is 20 ms RTT, {@code 1gbit:1ms}
 * 2 ms). Two VMs ({@code vm}):
 *
 * <ul>
 *   <li>{@code test}: the busybox test VM ({@code vm/build.sh}: Debian kernel, a 52 MiB app whose CGI
 *       answers with the md5 of the 5 MiB model it loads), built into {@code WORK/vm};
 *   <li>{@code debian}: the Debian 12 VM of {@code vm/debian} (systemd, numpy installed with apt, a
 *       service that loads a model and answers {@code GET /}; 1 GiB RAM, 8 GiB disk), built by
 *       {@code vm/debian/build.sh} and {@code app.sh} (as root, about 5 minutes the first time) into
 *       {@code -Dearlystart.bench.debvm} (default {@code WORK/debvm}).
 * </ul>
 *
 * One sample = one cold start, timed from the start of the command a user runs ({@code bin/earlystart}, a
 * JVM of its own) to the last byte of the app's checked answer:
 *
 * <ul>
 *   <li>{@code local}: {@code earlystart resume} of the customised VM's own files ({@code -snapshot}): the floor.
 *   <li>{@code synthesize}: {@code earlystart synthesize es://...} (every segment crosses the link, the
 *       images are written and synced), then {@code earlystart resume} of the result.
 *   <li>{@code early-offset}, {@code early-access}: {@code earlystart launch} of the overlay in offset
 *       order (create's default) or in access order (reordered by a start-up trace recorded once per
 *       VM with {@code launch --trace-out} from the local overlay), 4 KiB RAM faults (launch's default).
 *   <li>{@code early-offset-2m}, {@code early-access-2m}: the same with {@code --ram-faults 2m} (QEMU as
 *       it comes: 2 MiB windows; the access order from a trace recorded with 2 MiB faults).
 * </ul>
 *
 * Per early-start sample, one {@code [earlystart-bench] vm-first-response} line: bytes fetched by the
 * answer (the mount's status), demand fetches, and the bytes the VM needed: the segments that hold a
 * chunk read through the mount before the answer (from the sample's own {@code --trace-out}), with
 * needed/rate + 2 RTT, the bound without the local resume time (add {@code local}'s score). Once
 * per trial: the overlay's size against the paper's xdelta3 -9 + xz -9 of the same VM (cached in WORK).
 *
 * <p>WORK = {@code -Dearlystart.bench.dir} (default bench/target/work); the overlays and traces are kept
 * beside the VM and reused while it stays.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 1)
@Measurement(iterations = 5)
@State(Scope.Benchmark)
public class VmFirstResponseBenchmark {
  static final String LOCAL = "local";
  static final String SYNTHESIZE = "synthesize";
  private static final Duration DEADLINE = Duration.ofSeconds(180);

  @Param({LOCAL, SYNTHESIZE, "early-offset", "early-access", "early-offset-2m", "early-access-2m"})
  public String mode;

  /** {@code test} (vm/build.sh) or {@code debian} (vm/debian). */
  @Param({"test"})
  public String vm;

  /** The emulated link, RATE:ONE-WAY-DELAY. */
  @Param({"38mbit:10ms"})
  public String link;

  private VmRig.Kind kind;
  private FetcherRig.Link shaped;

  private Path root;
  private Path work;
  private Path vmDir;
  private Path served;
  private String expected;
  private OverlayServer server;
  private String overlayName;
  private Manifest manifest;

  // one sample
  private Path sample;
  private Child child;
  private Instant answeredAt;
  private long fetched;
  private long demands;
  private double seconds;

  @Setup(Level.Trial)
  public void setup() throws IOException, InterruptedException {
    root = projectRoot();
    kind = VmRig.Kind.of(vm);
    shaped = FetcherRig.Link.parse(link);
    work = Files.createDirectories(ExampleWorkload.root().resolve(kind.workName()));
    vmDir = VmRig.ensureVm(root, work, kind);
    expected = Files.readString(vmDir.resolve("expected-answer.txt")).strip();
    served = Files.createDirectories(work.resolve("served"));
    Path offset = served.resolve("offset.overlay");
    if (!Files.isRegularFile(offset)) {
      cli(work, "create", "-q", "--base-disk", vmDir.resolve("base/disk.img").toString(), "--base-memory",
          vmDir.resolve("base/memory.img").toString(), "--disk", vmDir.resolve("app/disk.img").toString(), "--memory",
          vmDir.resolve("app/memory.img").toString(), "--vmstate", vmDir.resolve("app/vmstate").toString(),
          "--vm-config", vmDir.resolve("app/vm.json").toString(), "-o", offset.toString());
    }
    VmRig.logSizes(vmDir, offset, work.resolve("xdelta-xz"));
    boolean big = mode.endsWith("-2m");
    overlayName = mode.startsWith("early-access") ? ensureAccessOrder(offset, big ? "2m" : "4k") : "offset.overlay";
    try (OverlayFile f = OverlayFile.open(served.resolve(overlayName))) {
      manifest = f.manifest();
    }
    server = FetcherRig.serve(served, shaped);
    ExampleWorkload.log("vm-first-response " + vm + " " + mode + ": serving " + overlayName + " (" + Files.size(
        served.resolve(overlayName)) + " bytes) over " + link + " (rate:one-way delay)");
  }

  /** access-FAULTS.overlay: the offset overlay reordered by a start-up recorded from the local overlay. */
  private String ensureAccessOrder(Path offset, String faults) throws IOException, InterruptedException {
    String name = "access-" + faults + ".overlay";
    if (Files.isRegularFile(served.resolve(name))) {
      return name;
    }
    Path rec = ExampleWorkload.freshDir(work.resolve("record-" + faults));
    Path trace = rec.resolve("startup.trace");
    Child c = launch(offset.toString(), rec.resolve("cache"), faults, trace);
    try {
      c.awaitResumed(DEADLINE);
      String got = answer(c.port, kind.path(), DEADLINE);
      if (!got.equals(expected)) {
        throw new IllegalStateException("recording: the app answered '" + got + "', expected '" + expected + "'");
      }
    } finally {
      c.stop();
    }
    cli(work, "reorder", offset.toString(), "--trace", trace.toString(), "-o", served.resolve(name).toString());
    return name;
  }

  @Setup(Level.Iteration)
  public void sample() throws IOException, InterruptedException {
    sample = ExampleWorkload.freshDir(work.resolve("sample"));
    if (mode.equals(LOCAL)) {
      VmRig.resumableCopy(vmDir.resolve("app"), sample.resolve("local"));
    }
    EarlystartRuns.syncAll();
    Thread.sleep(500); // nothing of the last sample still on the link or in writeback
  }

  @Benchmark
  public String firstResponse() throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    String source = "es://127.0.0.1:" + server.port() + "/" + overlayName;
    switch (mode) {
      case LOCAL -> child = resume(sample.resolve("local"));
      case SYNTHESIZE -> {
        Path out = sample.resolve("synth");
        cli(sample, "synthesize", "-q", "--base-disk", vmDir.resolve("base/disk.img").toString(), "--base-memory",
            vmDir.resolve("base/memory.img").toString(), source, "-o", out.toString());
        child = resume(out);
      }
      default -> child = launch(source, sample.resolve("cache"), mode.endsWith("-2m") ? "2m" : "4k",
          sample.resolve("replay.trace"));
    }
    child.awaitResumed(DEADLINE);
    String got = answer(child.port, kind.path(), DEADLINE);
    seconds = (System.nanoTime() - t0) / 1e9;
    answeredAt = Instant.now();
    if (mode.startsWith("early")) {
      String status = Files.readString(sample.resolve("cache/mnt/status"));
      fetched = number(status, "fetched");
      demands = number(status, "demands");
    }
    if (!got.equals(expected)) {
      throw new IllegalStateException(mode + ": the app answered '" + got + "', expected '" + expected + "'");
    }
    return got;
  }

  @TearDown(Level.Iteration)
  public void stop() throws IOException, InterruptedException {
    if (child != null) {
      child.stop();
      child = null;
    }
    if (mode.startsWith("early") && answeredAt != null) {
      long needed = neededBytes(Trace.read(sample.resolve("replay.trace")), answeredAt);
      double bound = (double) needed / shaped.bytesPerSecond() + 2 * shaped.rttSeconds();
      ExampleWorkload.log(String.format(Locale.ROOT, "vm-first-response %s %s %s: %.2f s, fetched %d bytes by the "
          + "answer, %d demands; needed %d bytes (segments read before the answer) -> needed/rate + 2 RTT = %.2f s",
          vm, link, mode, seconds, fetched, demands, needed, bound));
    } else if (answeredAt != null) {
      ExampleWorkload.log(String.format(Locale.ROOT, "vm-first-response %s %s %s: %.2f s", vm, link, mode, seconds));
    }
    answeredAt = null;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    if (child != null) {
      child.stop();
    }
    if (server != null) {
      server.close();
    }
  }

  /** Sum of the lengths of the segments holding a chunk of the overlay first read before {@code end}. */
  private long neededBytes(Trace t, Instant end) {
    long endNanos = Duration.between(t.start(), end).toNanos();
    BitSet segments = new BitSet();
    for (int i = 0; i < t.size(); i++) {
      if (t.nanos(i) <= endNanos) {
        FirstResponseReplay.markNeeded(manifest, t.image(i), t.chunk(i), segments);
      }
    }
    return FirstResponseReplay.segmentBytes(manifest, segments);
  }

  private static long number(String json, String key) {
    Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*([0-9]+)").matcher(json);
    if (!m.find()) {
      throw new IllegalStateException("no " + key + " in the mount's status: " + json);
    }
    return Long.parseLong(m.group(1));
  }

  private Child launch(String source, Path cache, String faults, Path traceOut) throws IOException {
    return Child.start(command("launch", "--base-disk", vmDir.resolve("base/disk.img").toString(), "--base-memory",
        vmDir.resolve("base/memory.img").toString(), "--source", source, "--cache-dir", cache.toString(), "--kernel",
        vmDir.resolve("kernel/vmlinuz").toString(), "--initrd", vmDir.resolve(kind.initrd()).toString(),
        "--ram-faults", faults, "--trace-out", traceOut.toString()));
  }

  /**
   * {@code earlystart resume} of {@code images} ({@code -snapshot}). A VM whose balloon reports free pages
   * is resumed from a sparse copy of memory.img (QEMU 7.2 punches reported pages out of the RAM file even
   * with share=off: native-notes/VM.md), made before the clock starts ({@link #sample()}).
   */
  private Child resume(Path images) throws IOException {
    return Child.start(command("resume", images.toString(), "--kernel", vmDir.resolve("kernel/vmlinuz").toString(),
        "--initrd", vmDir.resolve(kind.initrd()).toString(), "--", "-snapshot"));
  }

  /** The command a user runs: {@code bin/earlystart} of the tree (cli/target/classes and lib). */
  private List<String> command(String... args) {
    List<String> cmd = new ArrayList<>(List.of(root.resolve("bin/earlystart").toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  private void cli(Path dir, String... args) throws IOException, InterruptedException {
    Path log = dir.resolve("cli.log");
    ExternalTool.run(new ExternalTool.Step(command(args), log));
  }

  /** The app's answer: GET {@code path} over a plain socket, retried until {@code deadline}. */
  static String answer(int port, String path, Duration deadline) throws IOException, InterruptedException {
    long end = System.nanoTime() + deadline.toNanos();
    IOException last = null;
    String request = "GET " + path + " HTTP/1.0\r\nHost: vm\r\n\r\n";
    while (System.nanoTime() - end < 0) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        s.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime())));
        OutputStream o = s.getOutputStream();
        o.write(request.getBytes(StandardCharsets.US_ASCII));
        o.flush();
        byte[] all = s.getInputStream().readAllBytes();
        String text = new String(all, StandardCharsets.UTF_8);
        int body = text.indexOf("\r\n\r\n");
        if (body >= 0) {
          return text.substring(body + 4).strip();
        }
        last = new IOException("no HTTP answer: '" + text + "'");
      } catch (IOException e) {
        last = e;
      }
      Thread.sleep(50);
    }
    throw new IOException("no answer from the VM within " + deadline.toSeconds() + " s", last);
  }

  static Path projectRoot() {
    try {
      Path p = Path.of(VmFirstResponseBenchmark.class.getProtectionDomain().getCodeSource().getLocation().toURI())
          .toAbsolutePath();
      for (; p != null; p = p.getParent()) {
        if (Files.isRegularFile(p.resolve("vm/build.sh")) && Files.isRegularFile(p.resolve("bin/earlystart"))
            && Files.isDirectory(p.resolve("cli/target/classes"))) {
          return p;
        }
      }
    } catch (URISyntaxException | RuntimeException e) {
      // fall through
    }
    throw new IllegalStateException("run the benchmark from the project's tree (bench/target/benchmarks.jar): "
        + "vm/build.sh and bin/earlystart with its built cli/target are needed");
  }

  /** A CLI child process whose output is drained into a queue (so it never blocks on a full pipe). */
  static final class Child {
    private static final Pattern PORT = Pattern.compile(" at 127\\.0\\.0\\.1:(\\d+) ");
    final Process process;
    /** The host port of the guest's service, from the command's {@code resumed} line. */
    int port;
    private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final StringBuilder log = new StringBuilder();

    private Child(Process process) {
      this.process = process;
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
            StandardCharsets.UTF_8))) {
          for (String l; (l = r.readLine()) != null; ) {
            lines.add(l);
          }
        } catch (IOException e) {
          // the process is gone
        }
        lines.add("\u0000eof");
      }, "earlystart-bench-child-output");
      t.setDaemon(true);
      t.start();
    }

    static Child start(List<String> cmd) throws IOException {
      return new Child(new ProcessBuilder(cmd).redirectErrorStream(true).start());
    }

    void awaitResumed(Duration deadline) throws IOException, InterruptedException {
      long end = System.nanoTime() + deadline.toNanos();
      while (true) {
        String l = lines.poll(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (l == null || l.equals("\u0000eof")) {
          stop();
          throw new IOException((l == null ? "no resume within " + deadline.toSeconds() + " s" : "the command ended "
              + "before the VM resumed") + ":\n" + log);
        }
        log.append(l).append('\n');
        if (l.startsWith("resumed ")) {
          Matcher m = PORT.matcher(l);
          if (!m.find()) {
            stop();
            throw new IOException("no host port in: " + l);
          }
          port = Integer.parseInt(m.group(1));
          return;
        }
      }
    }

    /** SIGTERM (the command stops QEMU and unmounts), then SIGKILL after 60 s. */
    void stop() {
      process.destroy();
      try {
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
    }
  }
}
