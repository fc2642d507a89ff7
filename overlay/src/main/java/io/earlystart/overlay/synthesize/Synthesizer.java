package io.earlystart.overlay.synthesize;

import com.github.luben.zstd.ZstdDecompressCtx;
import io.earlystart.overlay.base.BaseCheck;
import io.earlystart.overlay.base.BaseIndex;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayReader;
import io.earlystart.overlay.format.PayloadRefs;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.format.SegmentCodec;
import io.earlystart.overlay.io.Futures;
import io.earlystart.overlay.io.Hex;
import io.earlystart.overlay.io.ImageFile;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.io.Ticker;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code earlystart synthesize}: the classic, non-lazy synthesis of the customised images from the
 * bases and a whole overlay. Checks the bases first (size, then digest), then runs a pipeline: the
 * calling thread reads and verifies segments in stream order while pool threads decompress and apply
 * them, and other pool tasks copy the base ranges; all write disjoint chunks of sparse files. Files
 * are written under temporary names and renamed into place only when all are complete. Stateless.
 */
public final class Synthesizer {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Synthesizer.class);
  private static final int CS = Manifest.CHUNK_SIZE;

  private Synthesizer() {}

  /** {@link #synthesize(OverlayReader, Path, Path, Path, int, boolean, Progress)} with fsync. */
  public static SynthesizeSummary synthesize(OverlayReader overlay, Path baseDisk, Path baseMemory, Path outDir,
      int threads, Progress progress) throws IOException, InterruptedException {
    return synthesize(overlay, baseDisk, baseMemory, outDir, threads, true, progress);
  }

  /**
   * @param sync fsync every file before it is renamed into place; without it a crash soon after may
   *     leave complete-looking files whose data never reached the disk
   */
  public static SynthesizeSummary synthesize(OverlayReader overlay, Path baseDisk, Path baseMemory, Path outDir,
      int threads, boolean sync, Progress progress) throws IOException, InterruptedException {
    long started = System.nanoTime();
    Manifest m = overlay.manifest();
    Path[] basePaths = {baseDisk, baseMemory};
    ImageFile[] bases = new ImageFile[2];
    ImageAssembler[] out = new ImageAssembler[2];
    List<Path> temps = new ArrayList<>();
    Path createdDir = null;
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "earlystart-synthesize");
      t.setDaemon(true);
      return t;
    });
    try (Ticker ticker = new Ticker(progress)) {
      for (Image image : Image.values()) {
        bases[image.ordinal()] = ImageFile.open(basePaths[image.ordinal()], image.baseName);
      }
      BaseIndex[] index = BaseCheck.check(overlay.header().baseDigest(), m, basePaths,
          new long[] {bases[0].size(), bases[1].size()}, pool);
      LOG.debug("bases checked after {} ms", (System.nanoTime() - started) / 1_000_000);
      if (!Files.isDirectory(outDir)) {
        Files.createDirectories(outDir);
        createdDir = outDir;
      }
      String suffix = ".partial-" + ProcessHandle.current().pid();
      for (Image image : Image.values()) {
        Path tmp = outDir.resolve("." + image.fileName + suffix);
        temps.add(tmp);
        out[image.ordinal()] = new ImageAssembler(image, tmp, m.imageSize(image), m.table(image));
      }
      for (Attachment a : m.attachments()) {
        Path tmp = outDir.resolve("." + a.name() + suffix);
        temps.add(tmp);
        byte[] content = overlay.readAttachment(a);
        try {
          Files.write(tmp, content);
        } catch (IOException e) {
          throw new IOException("cannot write " + outDir.resolve(a.name()) + ": " + e.getMessage(), e);
        }
      }
      long total = m.imageSize(Image.DISK) + m.imageSize(Image.MEMORY) + m.dataLength();
      AtomicLong done = ticker.start("synthesize", total);
      List<Future<?>> tasks = new java.util.LinkedList<>();
      for (ImageAssembler a : out) {
        long chunks = a.chunkCount();
        long per = Math.max(4096, (chunks + 8L * threads - 1) / (8L * threads));
        for (long from = 0; from < chunks; from += per) {
          long f = from;
          long t = Math.min(chunks, from + per);
          tasks.add(pool.submit(() -> {
            a.copyBase(bases, index, f, t, done);
            return null;
          }));
        }
      }
      applySegments(overlay, m, bases, out, pool, threads, done, tasks);
      LOG.debug("segments read after {} ms", (System.nanoTime() - started) / 1_000_000);
      for (Future<?> f : tasks) {
        Futures.get(f);
      }
      ticker.end();
      LOG.debug("images written after {} ms", (System.nanoTime() - started) / 1_000_000);
      if (sync) {
        forceAll(out, temps.subList(out.length, temps.size()), pool);
      }
      for (ImageAssembler a : out) {
        a.close();
      }
      LOG.debug("synced after {} ms", (System.nanoTime() - started) / 1_000_000);
      publish(m, outDir, suffix);
      temps.clear();
      return new SynthesizeSummary(Hex.of(overlay.header().manifestSha256()),
          overlay.header().dataStart() + m.dataLength(), m.imageSize(Image.DISK) + m.imageSize(Image.MEMORY),
          m.segments().size(), System.nanoTime() - started);
    } finally {
      pool.shutdownNow();
      try {
        // A task interrupted by shutdownNow closes its output channel itself, possibly after our close below
        // returned: wait for the tasks, so that no output file is still open (or written) when we return.
        pool.awaitTermination(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      for (int i = 0; i < 2; i++) {
        if (out[i] != null) {
          out[i].close();
        }
        if (bases[i] != null) {
          bases[i].close();
        }
      }
      for (Path p : temps) {
        Files.deleteIfExists(p);
      }
      if (createdDir != null && !temps.isEmpty()) {
        try (var left = Files.list(createdDir)) {
          if (left.findAny().isEmpty()) {
            Files.deleteIfExists(createdDir); // failed: do not leave an empty directory we made
          }
        }
      }
    }
  }

  /** fsync of every output at once, so the device sees the images' writeback in parallel. */
  private static void forceAll(ImageAssembler[] images, List<Path> attachments, ExecutorService pool)
      throws IOException, InterruptedException {
    List<Future<?>> syncs = new ArrayList<>();
    for (ImageAssembler a : images) {
      syncs.add(pool.submit(() -> {
        a.force();
        return null;
      }));
    }
    for (Path p : attachments) {
      try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
        ch.force(true);
      }
    }
    for (Future<?> f : syncs) {
      Futures.get(f);
    }
  }

  private static void applySegments(OverlayReader overlay, Manifest m, ImageFile[] bases, ImageAssembler[] out,
      ExecutorService pool, int threads, AtomicLong done, List<Future<?>> tasks)
      throws IOException, InterruptedException {
    PayloadRefs refs = PayloadRefs.of(m);
    SegmentWriter.Target[] targets = targets(bases, out);
    Semaphore inFlight = new Semaphore(2 * threads + 1);
    for (Segment s : m.segments()) {
      byte[] frame = overlay.readSegment(s);
      inFlight.acquire();
      tasks.add(pool.submit(() -> {
        try (SegmentWriter writer = new SegmentWriter()) {
          writer.write(overlay.describe(), s, frame, refs, targets);
          done.addAndGet(s.length());
          return null;
        } finally {
          inFlight.release();
        }
      }));
      for (java.util.Iterator<Future<?>> it = tasks.iterator(); it.hasNext(); ) {
        Future<?> f = it.next();
        if (f.isDone()) {
          Futures.get(f); // fail fast on the first broken segment
          it.remove(); // keeps this scan short on overlays with many segments
        }
      }
    }
  }

  /** {@code out[i]} as a {@link SegmentWriter.Target}, DELTA bases from {@code bases[i]}. */
  private static SegmentWriter.Target[] targets(ImageFile[] bases, ImageAssembler[] out) {
    SegmentWriter.Target[] t = new SegmentWriter.Target[out.length];
    for (int i = 0; i < out.length; i++) {
      ImageFile base = bases[i];
      ImageAssembler image = out[i];
      t[i] = new SegmentWriter.Target() {
        @Override
        public int chunkLength(long chunk) {
          return image.chunkLength(chunk);
        }

        @Override
        public boolean takes(long chunk) {
          return true;
        }

        @Override
        public void readBase(long chunk, byte[] dst, int len) throws IOException {
          base.read(chunk * CS, dst, 0, len);
        }

        @Override
        public void write(long chunk, byte[] src, int off, int len) throws IOException {
          image.write(chunk * CS, src, off, len);
        }
      };
    }
    return t;
  }

  /** Renames complete files into place; an image or attachment this overlay lacks is removed. */
  private static void publish(Manifest m, Path outDir, String suffix) throws IOException {
    List<String> names = new ArrayList<>(List.of(Image.DISK.fileName, Image.MEMORY.fileName));
    for (Attachment a : m.attachments()) {
      names.add(a.name());
    }
    for (String name : names) {
      Files.move(outDir.resolve("." + name + suffix), outDir.resolve(name), StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    }
    for (String stale : List.of(Attachment.VMSTATE, Attachment.VM_CONFIG)) {
      if (m.attachment(stale) == null) {
        Files.deleteIfExists(outDir.resolve(stale));
      }
    }
  }
}
