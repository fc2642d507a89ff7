package io.earlystart.fusefs;

import io.earlystart.fetcher.SchedulerOptions;
import io.earlystart.fetcher.SegmentScheduler;
import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.client.Sources;
import io.earlystart.fusefs.fuse.FuseMount;
import io.earlystart.fusefs.fuse.ImageFs;
import io.earlystart.fusefs.image.EarlyImage;
import io.earlystart.fusefs.image.EarlyImages;
import io.earlystart.fusefs.image.FirstTouchTrace;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.io.Closer;
import io.earlystart.overlay.io.DataRanges;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Early start of one overlay: the one way to mount it, for the CLI ({@code mount}, {@code launch}), the
 * benchmarks and the tests alike. It owns the order of the steps and everything they make:
 *
 * <ol>
 *   <li>{@link #open}: the FUSE binding starts loading, the source is connected and the overlay's head
 *       verified, the bases checked, the cache directory opened (what an earlier mount applied or the
 *       guest wrote is restored), the attachments fetched (or taken from the cache), and the
 *       first-touch trace begun if one is asked for. A caller may look at the head and the attachments
 *       now (launch reads {@code vm.json}) before anything is mounted.
 *   <li>{@link #mount}: the background stream starts (the link is busy from here on), then the images
 *       are mounted while it streams; demands are served from the moment the head has arrived.
 *   <li>{@link #close()}: unmounts, stops fetching, checkpoints the cache, closes the trace.
 * </ol>
 *
 * <p>Thread-safe after {@link #open}; {@link #unmount()} may come from a shutdown hook.
 */
public final class EarlyStart implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(EarlyStart.class);
  private static final Duration READY = Duration.ofSeconds(30);

  /**
   * @param diskWait how long a disk.img read may wait for its segment before it fails with EIO
   * @param memoryWait how long a memory.img read may wait (an error there kills QEMU): also how long
   *     the source may stay unreachable before fetching gives up
   * @param traceOut where to record the first touch of every chunk (an access trace), or null
   */
  public record Options(Path baseDisk, Path baseMemory, String source, Path cacheDir, Duration diskWait,
      Duration memoryWait, SchedulerOptions scheduler, Path traceOut) {
    public static Options of(Path baseDisk, Path baseMemory, String source, Path cacheDir) {
      return new Options(baseDisk, baseMemory, source, cacheDir, Duration.ofSeconds(30), Duration.ofHours(1),
          SchedulerOptions.DEFAULTS, null);
    }

    public Options withWaits(Duration disk, Duration memory) {
      return new Options(baseDisk, baseMemory, source, cacheDir, disk, memory, scheduler, traceOut);
    }

    public Options withScheduler(SchedulerOptions s) {
      return new Options(baseDisk, baseMemory, source, cacheDir, diskWait, memoryWait, s, traceOut);
    }

    /** Records the first touch of every chunk into {@code file} ({@code --trace-out}); null for none. */
    public Options withTrace(Path file) {
      return new Options(baseDisk, baseMemory, source, cacheDir, diskWait, memoryWait, scheduler, file);
    }
  }

  private final Options options;
  private final SegmentSource source;
  private final SegmentScheduler scheduler;
  private final FirstTouchTrace trace;
  private final long openedNanos = System.nanoTime();
  private volatile long streamStartNanos;
  private volatile long streamEndNanos;
  private OverlayHead head;
  private EarlyImages images;
  // guarded by this
  private FuseMount mount;
  private boolean closed;

  private EarlyStart(Options options, SegmentSource source) {
    this.options = options;
    this.source = source;
    this.trace = options.traceOut() != null ? new FirstTouchTrace(options.traceOut()) : null;
    SchedulerOptions so = options.scheduler().withGiveUpAfter(options.memoryWait());
    this.scheduler = new SegmentScheduler(source, (seg, frame) -> images.apply(seg, frame), so, new BitSet());
  }

  /** Everything up to the mount; see the class comment. */
  public static EarlyStart open(Options options) throws IOException, InterruptedException {
    // while connecting; libc for the discards' hole punching, which would otherwise be bound (~40 ms) at
    // the first discard, under the image lock the applier needs
    FuseMount.preloadAsync(DataRanges::preload);
    EarlyStart es = new EarlyStart(options, Sources.open(options.source()));
    try {
      es.init();
      return es;
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      try {
        es.close();
      } catch (IOException | RuntimeException s) {
        e.addSuppressed(s);
      }
      throw e;
    }
  }

  private void init() throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    head = scheduler.connect();
    long connected = System.nanoTime();
    images = EarlyImages.open(head, new Path[] {options.baseDisk(), options.baseMemory()}, options.cacheDir(),
        scheduler::fetchNow, options.diskWait(), options.memoryWait(), trace != null ? trace : EarlyImage.Touches.NONE,
        source.describe());
    scheduler.assumePresent(images.appliedAtOpen());
    long cached = System.nanoTime();
    images.loadAttachments(head.manifest(), scheduler::attachment);
    if (trace != null) {
      trace.begin(head.id(), head.manifest());
    }
    LOG.debug("open: connect and head {} ms, bases and cache {} ms, attachments {} ms",
        (connected - t0) / 1_000_000, (cached - connected) / 1_000_000, (System.nanoTime() - cached) / 1_000_000);
    LOG.info("overlay {} from {}: {} of {} segments in the cache {}", head.id(), source.describe(),
        images.appliedAtOpen().cardinality(), head.manifest().segments().size(), options.cacheDir());
  }

  /** The overlay's head (header and manifest). */
  public OverlayHead head() {
    return head;
  }

  /** Whether the overlay carries attachment {@code name}. */
  public boolean hasAttachment(String name) {
    return images.attachment(name) != null;
  }

  /** The bytes of attachment {@code name} (vmstate, vm.json), or null if the overlay has none. */
  public byte[] attachment(String name) {
    return images.attachment(name);
  }

  /** The image the guest sees (also without a mount: tests and benchmarks read it directly). */
  public EarlyImage image(Image image) {
    return images.image(image);
  }

  /** The scheduler that fetches the segments: its counters, its completion (or the error that stopped it). */
  public SegmentScheduler scheduler() {
    return scheduler;
  }

  /** Adds a named mark (such as "resumed") to the first-touch trace; nothing without one. */
  public void mark(String label) {
    if (trace != null) {
      trace.mark(label);
    }
  }

  /**
   * Starts the background stream, then mounts the images at {@code mountPoint} (a stale mount there is
   * removed first) and returns once the mount answers. Once per instance.
   *
   * @param fuseOptions libfuse options ({@code MountOptions.writable(extra)} for an early-start mount)
   * @return the absolute mount point
   */
  public synchronized Path mount(Path mountPoint, List<String> fuseOptions) throws IOException {
    if (mount != null) {
      throw new IllegalStateException("already mounted at " + mount.mountPoint());
    }
    streamStartNanos = System.nanoTime();
    scheduler.completion().whenComplete((v, t) -> streamEndNanos = System.nanoTime());
    scheduler.startStream(); // the link is busy from here on; the mount comes up meanwhile
    ImageFs fs = new ImageFs(images.files(), Map.of("status", () -> statusJson().getBytes(StandardCharsets.UTF_8)));
    mount = FuseMount.mount(fs, mountPoint, fuseOptions, READY);
    return mount.mountPoint();
  }

  /**
   * Completes when the FUSE loop has ended: after {@link #unmount()}, or when someone else unmounted
   * ({@code fusermount -u}); exceptionally if the loop failed.
   */
  public synchronized CompletableFuture<Void> loopExit() {
    if (mount == null) {
      throw new IllegalStateException("not mounted");
    }
    return mount.loopExit();
  }

  /** Unmounts, if mounted; fetching goes on until {@link #close()}. Idempotent; any thread. */
  public void unmount() throws IOException {
    FuseMount m;
    synchronized (this) {
      m = mount;
    }
    if (m != null) {
      m.close();
    }
  }

  /** The live status, as the mount's {@code status} file shows it (JSON). */
  public String statusJson() {
    return images.statusJson(head, scheduler, openedNanos, streamStartNanos, streamEndNanos);
  }

  /** Unmounts, stops fetching, checkpoints and closes the cache, closes the source and the trace. Idempotent. */
  @Override
  public void close() throws IOException {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    IOException first = null;
    try {
      unmount();
    } catch (IOException e) {
      first = e;
    }
    scheduler.close();
    List<Closeable> rest = new ArrayList<>();
    rest.add(source);
    rest.add(images);
    rest.add(trace);
    Closer.closeAll(first, rest.toArray(new Closeable[0]));
  }
}
