package io.earlystart.fusefs.image;

import io.earlystart.fetcher.SegmentScheduler;
import io.earlystart.fetcher.SegmentWait;
import io.earlystart.overlay.base.BaseCheck;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.PayloadRefs;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.io.Closer;
import io.earlystart.overlay.synthesize.SegmentWriter;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The early-started images of one overlay, without FUSE: {@code disk.img} and {@code memory.img} over
 * the checked bases and the cache directory, the attachments, and the applier that puts arrived
 * segments into the cache. What the cache directory kept from an earlier mount is restored by {@link
 * #open}; {@link #appliedAtOpen()} tells the scheduler which segments need no fetching.
 *
 * <p>Thread-safe after {@link #open}. {@link #apply} runs on the scheduler's one applier thread.
 * Owns the bases, the cache state and the segment writer; {@link #close()} (after unmount, once
 * fetching has stopped) checkpoints the cache and closes them.
 */
public final class EarlyImages implements SegmentScheduler.Applier, Closeable {
  private final String source;
  private final Bases bases;
  private final CacheState cache;
  private final PayloadRefs refs;
  private final ChunkState[] chunks = new ChunkState[2];
  private final EarlyImage[] images = new EarlyImage[2];
  private final EarlyImage.Waits[] waits = {new EarlyImage.Waits(), new EarlyImage.Waits()};
  private final SegmentWriter writer = new SegmentWriter();
  private final BitSet appliedAtOpen;
  private final Map<String, byte[]> attachments = new LinkedHashMap<>();
  private boolean closed;

  private EarlyImages(String source, Manifest m, Bases bases, CacheState cache, EarlyImage.SegmentFetch fetch,
      Duration diskWait, Duration memoryWait, EarlyImage.Touches touches) {
    this.source = source;
    this.bases = bases;
    this.cache = cache;
    this.refs = PayloadRefs.of(m);
    SegmentWait wait = new SegmentWait(source);
    for (Image image : Image.values()) {
      chunks[image.ordinal()] = new ChunkState(image, m, bases, cache);
      images[image.ordinal()] = new EarlyImage(chunks[image.ordinal()], bases, cache, fetch,
          image == Image.DISK ? diskWait : memoryWait, waits[image.ordinal()], touches, wait);
    }
    this.appliedAtOpen = ChunkState.restore(chunks, cache, m, refs);
  }

  /**
   * Opens the bases and checks them against the overlay (size, then the digest its format version names
   * them by), then opens the cache directory (refused when another mount uses it or it holds another
   * overlay) and restores what it kept.
   *
   * @param basePaths base disk and base memory, in {@link Image} order
   * @param fetch how a read gets a segment that has not arrived
   * @param diskWait how long a disk.img read may wait for its segment before it fails with EIO
   * @param memoryWait how long a memory.img read may wait (an error there kills QEMU)
   * @param source the overlay's source as the user named it, for messages
   */
  public static EarlyImages open(OverlayHead head, Path[] basePaths, Path cacheDir, EarlyImage.SegmentFetch fetch,
      Duration diskWait, Duration memoryWait, EarlyImage.Touches touches, String source)
      throws IOException, InterruptedException {
    Manifest m = head.manifest();
    List<Closeable> opened = new ArrayList<>();
    try {
      Bases bases = Bases.open(basePaths);
      opened.add(bases);
      ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "earlystart-base-check");
        t.setDaemon(true);
        return t;
      });
      try {
        BaseCheck.checkIdentity(head.header().baseDigest(), m, basePaths, bases.sizes(), pool);
      } finally {
        pool.shutdownNow();
      }
      CacheState cache = CacheState.open(cacheDir, head.id(),
          new long[] {m.imageSize(Image.DISK), m.imageSize(Image.MEMORY)});
      opened.add(cache);
      return new EarlyImages(source, m, bases, cache, fetch, diskWait, memoryWait, touches);
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      java.util.Collections.reverse(opened);
      try {
        Closer.closeAll(opened);
      } catch (IOException | RuntimeException s) {
        e.addSuppressed(s);
      }
      throw e;
    }
  }

  /** How an attachment is fetched when the cache directory does not keep it yet. */
  @FunctionalInterface
  public interface AttachmentFetch {
    byte[] fetch(Attachment a) throws IOException;
  }

  /** The attachments (small and needed first): fetched once with {@code fetch}, then kept in the cache directory. */
  public void loadAttachments(Manifest m, AttachmentFetch fetch) throws IOException {
    for (Attachment a : m.attachments()) {
      Path kept = cache.dir().resolve("attachment." + a.name());
      byte[] bytes = null;
      if (Files.isRegularFile(kept) && Files.size(kept) == a.rawLength()) {
        bytes = Files.readAllBytes(kept);
      }
      if (bytes == null) {
        bytes = fetch.fetch(a);
        CacheState.writeAtomically(kept, bytes);
      }
      attachments.put(a.name(), bytes);
    }
  }

  /** The bytes of attachment {@code name} (vmstate, vm.json), or null if the overlay has none. */
  public byte[] attachment(String name) {
    byte[] b = attachments.get(name);
    return b == null ? null : b.clone();
  }

  /** Segments the cache directory held applied when it was opened. */
  public BitSet appliedAtOpen() {
    return (BitSet) appliedAtOpen.clone();
  }

  public EarlyImage image(Image image) {
    return images[image.ordinal()];
  }

  /** The files a mount shows, in listing order: disk.img, memory.img, then the attachments. */
  public Map<String, ReadableFile> files() {
    Map<String, ReadableFile> files = new LinkedHashMap<>();
    files.put(Image.DISK.fileName, images[0]);
    files.put(Image.MEMORY.fileName, images[1]);
    for (Map.Entry<String, byte[]> e : attachments.entrySet()) {
      files.put(e.getKey(), new BytesFile(e.getValue()));
    }
    return files;
  }

  /**
   * Puts a verified segment's chunks into the cache files of both images (the guest's chunks keep the
   * guest's bytes), journals it, and only then marks its chunks arrived ({@link ChunkState#applySegment}).
   */
  @Override
  public void apply(Segment s, byte[] frame) throws IOException {
    try {
      ChunkState.applySegment(chunks, s, frame, refs, writer, source);
    } catch (CorruptOverlayException | ChunkState.BaseReadException e) {
      throw e;
    } catch (IOException e) {
      // a full or failing cache disk: say where (the scheduler stops fetching, launch and mount exit)
      throw new IOException("cannot write " + s + " into the cache directory " + cache.dir() + ": " + e.getMessage(), e);
    }
  }

  /** The live status, as the mount's {@code status} file shows it (JSON; keys in {@link Status}). */
  public String statusJson(OverlayHead head, SegmentScheduler scheduler, long openedNanos, long streamStartNanos,
      long streamEndNanos) {
    return Status.json(head, scheduler, source, waits, chunks, appliedAtOpen.cardinality(), openedNanos,
        streamStartNanos, streamEndNanos);
  }

  /** Checkpoints and closes the cache, closes the bases and frees the segment writer. Call once fetching has stopped. */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    Closer.closeAll(List.of(cache, bases, writer::close));
  }
}
