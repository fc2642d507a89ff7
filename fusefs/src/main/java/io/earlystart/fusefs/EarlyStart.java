package io.earlystart.fusefs;

import io.earlystart.fetcher.SchedulerOptions;
import io.earlystart.fetcher.SegmentScheduler;
import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.Sources;
import io.earlystart.overlay.base.BaseCheck;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.PayloadRefs;
import io.earlystart.overlay.io.Closer;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.roaringbitmap.RoaringBitmap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The early-started images of one overlay, ready to mount: connects to the source (head only),
 * checks the bases, opens the cache directory (resuming what an earlier mount applied or the guest
 * wrote), fetches the attachments, and builds {@code disk.img}, {@code memory.img}, {@code vmstate},
 * {@code vm.json} and a live {@code status}. The background stream starts with {@link #startStream()}
 * (launch and mount call it just before mounting: the link is busy while the mount and QEMU come up).
 *
 * <p>Thread-safe after {@link #open}. Owns the scheduler, the source, the cache state and the base
 * channels; {@link #close()} (after unmount) stops fetching and checkpoints the cache.
 */
public final class EarlyStart implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(EarlyStart.class);

  /**
   * @param diskWait how long a disk.img read may wait for its segment before it fails with EIO
   * @param memoryWait how long a memory.img read may wait (an error there kills QEMU): also how long
   *     the source may stay unreachable before fetching gives up
   */
  public record Options(Path baseDisk, Path baseMemory, String source, Path cacheDir, Duration diskWait,
      Duration memoryWait, SchedulerOptions scheduler) {
    public static Options of(Path baseDisk, Path baseMemory, String source, Path cacheDir) {
      return new Options(baseDisk, baseMemory, source, cacheDir, Duration.ofSeconds(30), Duration.ofHours(1),
          SchedulerOptions.DEFAULTS);
    }

    public Options withWaits(Duration disk, Duration memory) {
      return new Options(baseDisk, baseMemory, source, cacheDir, disk, memory, scheduler);
    }

    public Options withScheduler(SchedulerOptions s) {
      return new Options(baseDisk, baseMemory, source, cacheDir, diskWait, memoryWait, s);
    }
  }

  private final Options options;
  private final SegmentSource source;
  private final SegmentScheduler scheduler;
  private final List<Closeable> owned = new ArrayList<>();
  private final long openedNanos = System.nanoTime();
  private volatile long streamStartNanos;
  private volatile long streamEndNanos;
  private OverlayHead head;
  private CacheState state;
  private EarlyImage[] images;
  private OverlayApplier applier;
  private final Map<String, byte[]> attachments = new LinkedHashMap<>();
  private final Waits[] waits = {new Waits(), new Waits()};
  private int appliedAtOpen;

  private EarlyStart(Options options, SegmentSource source) {
    this.options = options;
    this.source = source;
    SchedulerOptions so = options.scheduler().withGiveUpAfter(options.memoryWait());
    this.scheduler = new SegmentScheduler(source, (seg, frame) -> applier.apply(seg, frame), so, new BitSet());
  }

  /**
   * Everything up to the mount; see the class comment.
   *
   * @param touches told of every chunk the guest touches (trace recording), or {@link EarlyImage.Touches#NONE}
   */
  public static EarlyStart open(Options options, EarlyImage.Touches touches) throws IOException,
      InterruptedException {
    SegmentSource src = Sources.open(options.source());
    EarlyStart es = new EarlyStart(options, src);
    try {
      es.init(touches);
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

  private void init(EarlyImage.Touches touches) throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    head = scheduler.connect();
    long connected = System.nanoTime();
    Manifest m = head.manifest();
    Path[] basePaths = {options.baseDisk(), options.baseMemory()};
    FileChannel[] bases = new FileChannel[2];
    long[] baseSizes = new long[2];
    for (Image image : Image.values()) {
      Path p = basePaths[image.ordinal()];
      try {
        bases[image.ordinal()] = FileChannel.open(p, StandardOpenOption.READ);
      } catch (NoSuchFileException e) {
        throw new NoSuchFileException(p.toString(), null, image.baseName + " not found");
      }
      owned.add(bases[image.ordinal()]);
      baseSizes[image.ordinal()] = bases[image.ordinal()].size();
    }
    ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "earlystart-base-check");
      t.setDaemon(true);
      return t;
    });
    try {
      BaseCheck.check(m, basePaths, baseSizes, pool);
    } finally {
      pool.shutdownNow();
    }
    long checked = System.nanoTime();
    state = CacheState.open(options.cacheDir(), head.id(),
        new long[] {m.imageSize(Image.DISK), m.imageSize(Image.MEMORY)});
    owned.add(state);
    images = new EarlyImage[2];
    for (Image image : Image.values()) {
      images[image.ordinal()] = new EarlyImage(image, m, bases, baseSizes, state, scheduler::demand,
          image == Image.DISK ? options.diskWait() : options.memoryWait(), waits[image.ordinal()], touches,
          source.describe());
    }
    applier = new OverlayApplier(images, PayloadRefs.of(m), state, source.describe());
    owned.add(applier);
    RoaringBitmap applied = state.applied();
    BitSet present = new BitSet(m.segments().size());
    applied.forEach((org.roaringbitmap.IntConsumer) i -> {
      if (i >= 0 && i < m.segments().size()) {
        present.set(i);
        applier.markPresent(m.segments().get(i));
      }
    });
    appliedAtOpen = present.cardinality();
    for (Image image : Image.values()) {
      EarlyImage img = images[image.ordinal()];
      RoaringBitmap written = state.written(image);
      img.written.setAll(written);
      img.present.setAll(written);
    }
    scheduler.assumePresent(present);
    long cached = System.nanoTime();
    loadAttachments(m);
    LOG.debug("open: connect and head {} ms, base check {} ms, cache state {} ms, attachments {} ms",
        (connected - t0) / 1_000_000, (checked - connected) / 1_000_000, (cached - checked) / 1_000_000,
        (System.nanoTime() - cached) / 1_000_000);
    LOG.info("overlay {} from {}: {} of {} segments in the cache {}", head.id(), source.describe(), appliedAtOpen,
        m.segments().size(), options.cacheDir());
  }

  /** Attachments are small and needed first: fetched once, kept in the cache directory. */
  private void loadAttachments(Manifest m) throws IOException {
    for (Attachment a : m.attachments()) {
      Path kept = options.cacheDir().resolve("attachment." + a.name());
      byte[] bytes = null;
      if (Files.isRegularFile(kept) && Files.size(kept) == a.rawLength()) {
        bytes = Files.readAllBytes(kept);
      }
      if (bytes == null) {
        bytes = scheduler.attachment(a);
        CacheState.writeAtomically(kept, bytes);
      }
      attachments.put(a.name(), bytes);
    }
  }

  /** Whether the overlay carries attachment {@code name}. */
  public boolean hasAttachment(String name) {
    return attachments.containsKey(name);
  }

  /** The bytes of attachment {@code name} (vmstate, vm.json), or null if the overlay has none. */
  public byte[] attachment(String name) {
    byte[] b = attachments.get(name);
    return b == null ? null : b.clone();
  }

  /** The overlay's head (header and manifest). */
  public OverlayHead head() {
    return head;
  }

  public EarlyImage image(Image image) {
    return images[image.ordinal()];
  }

  public SegmentScheduler scheduler() {
    return scheduler;
  }

  /** The file system to mount: disk.img, memory.img, the attachments, and status. */
  public ImageFs fileSystem() {
    Map<String, ReadableImage> files = new LinkedHashMap<>();
    files.put(Image.DISK.fileName, images[0]);
    files.put(Image.MEMORY.fileName, images[1]);
    for (Map.Entry<String, byte[]> e : attachments.entrySet()) {
      files.put(e.getKey(), new BytesImage(e.getValue()));
    }
    return new ImageFs(files, Map.of("status", () -> statusJson().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  /** Starts the background stream (demands are served before it, too). */
  public void startStream() {
    streamStartNanos = System.nanoTime();
    scheduler.completion().whenComplete((v, t) -> streamEndNanos = System.nanoTime());
    scheduler.startStream();
  }

  /** The live status, as the mount's {@code status} file shows it (JSON). */
  public String statusJson() {
    return Status.json(head, scheduler, source.describe(), waits, images, appliedAtOpen, openedNanos,
        streamStartNanos, streamEndNanos);
  }

  /** Stops fetching, checkpoints and closes the cache, closes the bases and the source. Idempotent. */
  @Override
  public void close() throws IOException {
    scheduler.close();
    List<Closeable> all = new ArrayList<>(owned);
    all.add(source);
    java.util.Collections.reverse(all);
    owned.clear();
    Closer.closeAll(all);
  }
}
