package io.earlystart.bench;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.infra.ThreadParams;

/**
 * The FUSE read path on a fully arrived image (issue 4): {@code disk.img} (or {@code -p
 * image=memory.img}) of the {@code sizeMiB} MiB example pair, read through our mount, through
 * bindfs, and directly, in one run ({@code @Param path}, see {@link FuseReadRig}). Targets:
 * earlystart &gt;= 0.8x bindfs throughput; 4 KiB p50 &lt;= 30 µs.
 *
 * <ul>
 *   <li>{@code sequential} (ops/s; secondary {@code MBps}: MB/s, 10^6 bytes): one op reads the whole
 *       image from offset 0 in 128 KiB {@code FileChannel} positional reads into a direct buffer.
 *   <li>{@code random4k} (sample time, µs: p50, p99 and the rest of the distribution): one op is one
 *       4 KiB read at a random 4 KiB-aligned offset (seeded, the same sequence for every path).
 *   <li>{@code random4kThroughput} (ops/s = reads per second; {@code MBps}): the same reads, counted.
 * </ul>
 *
 * <p><b>Page cache.</b> Our mount keeps the page cache ({@code kernel_cache}), so a second read of a
 * page would never reach a daemon. For {@code earlystart} and {@code bindfs} every op therefore
 * starts, outside the timing ({@code @Setup(Level.Invocation)}), with
 * {@code posix_fadvise(POSIX_FADV_DONTNEED)} of the whole file opened through the mount
 * ({@link FuseReadPageCache}): a sequential pass finds no page cached, and a random read goes to the
 * daemon as one 4 KiB request (the mount's trace log showed 16,283 of 16,285 reads so; the other two,
 * at offset 0 or right after the read before, got the kernel's 16 KiB initial readahead window). The
 * files behind the mounts (the customised image for bindfs; the cache files and the bases for
 * earlystart) stay in the page cache, read once in the setup. So does the image for {@code direct}:
 * that is the floor, a copy out of the page cache, that the FUSE paths add to. After every iteration
 * the bytes the daemon wrote ({@code wchar} in {@code /proc/PID/io}, which counts its replies
 * through {@code /dev/fuse}) are compared with the bytes read; the iteration fails if the daemon
 * wrote less than 90 % of them (the page cache answered, FUSE was not measured). The trial prints
 * the range of that ratio ({@code [earlystart-bench] ... daemon wrote}); 1.00x is every byte through
 * the daemon.
 *
 * <p><b>Fairness.</b> Both FUSE daemons run in their own process on the same libfuse 2.9 with the same
 * {@code -o} options ({@code earlystart mount}'s), multi-threaded ({@code bindfs --multithreaded};
 * {@code -p path=bindfs-st} adds Debian's single-threaded default), and read their backing files from
 * the page cache. Each trial mounts afresh; the mounted image is compared with the original before
 * measuring, which also warms the daemon's JIT. One reader thread by default ({@code -t N} for more;
 * each thread has its own random sequence). As root, bindfs adds {@code allow_other} and
 * {@code default_permissions}; neither touches the read path.
 *
 * <p>{@code -jvmArgsAppend -Dearlystart.bench.mountJvmArgs=...} passes JVM arguments to the mount's
 * JVM, e.g. {@code -Dorg.slf4j.simpleLogger.log.io.earlystart.fusefs=trace}, which logs every FUSE
 * read to {@code WORK/fuseread-earlystart.log} (slow: for checking, not for figures).
 */
@Fork(1)
@Warmup(iterations = 2, time = 2, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 3, timeUnit = TimeUnit.SECONDS)
public class FuseReadBenchmark {
  static final int BLOCK = 128 << 10;
  static final int PAGE = 4 << 10;
  static final long SEED = 4;
  /** Below this share of the bytes read coming from the daemon, the page cache hid the FUSE path. */
  static final double MIN_DAEMON_SHARE = 0.9;

  /** The file read, its mount, and the check that reads reached the daemon. */
  @State(Scope.Benchmark)
  public static class Target {
    @Param({FuseReadRig.DIRECT, FuseReadRig.EARLYSTART, FuseReadRig.BINDFS})
    public String path;

    @Param("256")
    public int sizeMiB;

    @Param("disk.img")
    public String image;

    FuseReadRig rig;
    FileChannel channel;
    long size;
    final LongAdder bytesRead = new LongAdder();
    private FuseReadPageCache cache;
    private long readBefore;
    private long daemonBefore;
    private double minShare = Double.POSITIVE_INFINITY;
    private double maxShare;
    private int checked;

    @Setup(Level.Trial)
    public void start() throws IOException, InterruptedException {
      rig = FuseReadRig.start(path, sizeMiB, image);
      try {
        channel = rig.openChannel();
        size = channel.size();
        if (!path.equals(FuseReadRig.DIRECT)) {
          cache = rig.openPageCache();
        }
      } catch (Throwable t) {
        rig.closeAfter(t);
        throw t;
      }
      ExampleWorkload.log("path=" + path + ": reading " + rig.file + " (" + size + " bytes), "
          + (cache != null ? "its page cache dropped before every op" : "from the page cache"));
    }

    /** Drops the cached pages of a file read through a mount; nothing for {@code direct}. */
    void dropCache() throws IOException {
      if (cache != null) {
        cache.drop();
      }
    }

    @Setup(Level.Iteration)
    public void mark() {
      readBefore = bytesRead.sum();
      daemonBefore = rig.daemonWrittenBytes();
    }

    @TearDown(Level.Iteration)
    public void check() {
      long read = bytesRead.sum() - readBefore;
      long daemonAfter = rig.daemonWrittenBytes();
      if (daemonBefore < 0 || daemonAfter < 0 || read == 0) {
        return;
      }
      double share = (daemonAfter - daemonBefore) / (double) read;
      minShare = Math.min(minShare, share);
      maxShare = Math.max(maxShare, share);
      checked++;
      if (share < MIN_DAEMON_SHARE) {
        throw new IllegalStateException(String.format("path=%s: the FUSE daemon wrote %d bytes for the %d bytes "
            + "read in this iteration (%.3fx): the page cache answered the rest, the FUSE path was not measured",
            path, daemonAfter - daemonBefore, read, share));
      }
    }

    /**
     * Closes the files and unmounts ({@link FuseReadRig#close()}). JMH skips this after a failure;
     * the rig's shutdown hook then does the same when the fork exits.
     */
    @TearDown(Level.Trial)
    public void stop() throws IOException, InterruptedException {
      String daemon = checked == 0 ? "" : String.format("; in %d iterations the daemon wrote %.4fx to %.4fx the bytes "
          + "read", checked, minShare, maxShare);
      ExampleWorkload.log(String.format("path=%s: %d bytes read in all iterations%s", path, bytesRead.sum(), daemon));
      rig.close();
    }
  }

  /** One reader thread's buffers and random offsets; drops the page cache before each op. */
  @State(Scope.Thread)
  public static class Reader {
    ByteBuffer block;
    ByteBuffer page;
    private SplittableRandom random;
    private long pages;
    long offset;

    @Setup(Level.Trial)
    public void setUp(Target t, ThreadParams threads) {
      ByteBuffer aligned = ByteBuffer.allocateDirect(BLOCK + PAGE).alignedSlice(PAGE);
      block = aligned.slice(0, BLOCK);
      page = aligned.slice(0, PAGE);
      random = new SplittableRandom(SEED + threads.getThreadIndex());
      pages = t.size / PAGE;
    }

    @Setup(Level.Invocation)
    public void next(Target t) throws IOException {
      t.dropCache();
      offset = random.nextLong(pages) * PAGE;
    }

    int readPage(Target t) throws IOException {
      ByteBuffer b = page.clear();
      while (b.hasRemaining()) {
        if (t.channel.read(b, offset + b.position()) < 0) {
          throw new EOFException(t.rig.file + " ended at " + (offset + b.position()));
        }
      }
      t.bytesRead.add(PAGE);
      return b.get(0);
    }
  }

  /** Bytes read, reported per second: {@code MBps} is MB/s (10^6 bytes). */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Counters {
    public double MBps;

    @Setup(Level.Iteration)
    public void reset() {
      MBps = 0;
    }
  }

  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.SECONDS)
  public long sequential(Target t, Reader r, Counters c) throws IOException {
    ByteBuffer b = r.block;
    long pos = 0;
    while (pos < t.size) {
      int n = t.channel.read(b.clear(), pos);
      if (n < 0) {
        throw new EOFException(t.rig.file + " ended at " + pos + " of " + t.size);
      }
      pos += n;
    }
    t.bytesRead.add(pos);
    c.MBps += pos / 1e6;
    return pos;
  }

  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public int random4k(Target t, Reader r) throws IOException {
    return r.readPage(t);
  }

  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.SECONDS)
  public int random4kThroughput(Target t, Reader r, Counters c) throws IOException {
    int b = r.readPage(t);
    c.MBps += PAGE / 1e6;
    return b;
  }
}
