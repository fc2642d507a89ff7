package io.earlystart.overlay.create;

import com.github.luben.zstd.Zstd;
import io.earlystart.overlay.base.BaseIndex;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.BaseRef;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.ManifestCodec;
import io.earlystart.overlay.format.OverlayHeader;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.io.Futures;
import io.earlystart.overlay.io.Hex;
import io.earlystart.overlay.io.ImageFile;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.io.Sha256;
import io.earlystart.overlay.io.Ticker;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code earlystart create}: compares customised disk and memory images with their bases and writes
 * the overlay file (FORMAT.md). Phases: index the bases (cached), scan for changed chunks, assign
 * payloads with self dedup (unless {@link CreateOptions#dedup()} is off), compress segments in
 * parallel, then write header and manifest in front of the data. The output appears under its final
 * name only when complete. One call at a time per instance; the class itself holds no state.
 */
public final class OverlayCreator {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(OverlayCreator.class);
  private static final int CS = Manifest.CHUNK_SIZE;

  private OverlayCreator() {}

  /** {@link #create(CreateOptions, AccessOrder, Progress)} in offset order. */
  public static CreateSummary create(CreateOptions o, Progress progress) throws IOException, InterruptedException {
    return create(o, AccessOrder.OFFSET, progress);
  }

  /**
   * Creates the overlay with its stream in {@code order}: payloads of chunks touched first come first
   * (see {@link AccessOrder}).
   */
  public static CreateSummary create(CreateOptions o, AccessOrder order, Progress progress)
      throws IOException, InterruptedException {
    long started = System.nanoTime();
    Path dir = o.output().toAbsolutePath().getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new IOException("output directory " + dir + " does not exist");
    }
    ExecutorService pool = Executors.newFixedThreadPool(o.threads(), r -> {
      Thread t = new Thread(r, "earlystart-create");
      t.setDaemon(true);
      return t;
    });
    List<ImageFile> open = new ArrayList<>();
    try (Ticker ticker = new Ticker(progress)) {
      ImageFile[] bases = {open(open, o.baseDisk(), "base disk"), open(open, o.baseMemory(), "base memory")};
      ImageFile[] customs = {open(open, o.disk(), "customised disk"), open(open, o.memory(), "customised memory")};
      if (customs[1].size() != bases[1].size()) {
        throw new IOException("memory sizes do not match: customised memory " + o.memory() + " is "
            + customs[1].size() + " bytes, base memory " + o.baseMemory() + " is " + bases[1].size()
            + " (a VM's RAM size cannot change between base and customised VM)");
      }
      AtomicLong indexed = ticker.start("index base", bases[0].size() + bases[1].size());
      Future<BaseIndex> diskIndex = pool.submit(() -> BaseIndex.loadOrBuild(o.baseDisk(), "base disk"));
      BaseIndex memIndex = BaseIndex.loadOrBuild(o.baseMemory(), "base memory");
      BaseIndex[] index = {Futures.get(diskIndex), memIndex};
      indexed.set(bases[0].size() + bases[1].size());
      LOG.debug("base index ready after {} ms", (System.nanoTime() - started) / 1_000_000);

      long input = customs[0].size() + customs[1].size();
      AtomicLong scanned = ticker.start("scan", input);
      // without dedup nothing is looked up across offsets, so the lookup table is not even built
      ChangeScanner scanner = new ChangeScanner(bases, o.dedup() ? new BaseLookup(index) : null);
      ChangeScanner.Changes[] changes = new ChangeScanner.Changes[2];
      for (Image image : Image.values()) {
        changes[image.ordinal()] = scanner.scan(image, customs[image.ordinal()], pool, o.threads() * 4, scanned);
      }
      LOG.debug("scan done after {} ms", (System.nanoTime() - started) / 1_000_000);
      PayloadPlan plan = PayloadPlan.build(changes, customs, index, o.dedup());
      if (order != AccessOrder.OFFSET) {
        plan = plan.reordered(order);
      }
      LOG.debug("payload plan done after {} ms: {} payloads", (System.nanoTime() - started) / 1_000_000,
          plan.payloadCount);

      Path data = temp(o.output(), "data");
      Path whole = temp(o.output(), "tmp");
      try {
        List<Attachment> attachments = new ArrayList<>();
        List<Segment> segments = new ArrayList<>();
        BitSet deltas = new BitSet(plan.payloadCount);
        long payloadBytes;
        try (FileChannel out = FileChannel.open(data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
          long offset = writeAttachments(o, out, attachments);
          AtomicLong encoded = ticker.start("compress", plan.payloadCount);
          SegmentEncoder encoder = new SegmentEncoder(plan, customs, bases, o.level());
          PayloadPlan p = plan;
          payloadBytes = writeSegments(plan.payloadCount, i -> p.length(customs, i), o.segmentSize(), o.threads(),
              pool, encoder::encode, out, offset, segments, e -> {
                for (int i = e.deltas().nextSetBit(0); i >= 0; i = e.deltas().nextSetBit(i + 1)) {
                  deltas.set(e.first() + i);
                }
                encoded.addAndGet(e.count());
              });
        } catch (OutputException e) {
          throw e.named(o.output());
        }
        ticker.end();
        LOG.debug("segments written after {} ms", (System.nanoTime() - started) / 1_000_000);
        Manifest manifest = new Manifest(CS, new BaseRef[] {index[0].ref(), index[1].ref()},
            new long[] {customs[0].size(), customs[1].size()}, tables(plan, deltas), plan.payloadCount,
            attachments, segments);
        Finished done = finish(OverlayHeader.CURRENT_VERSION, manifest, data, whole, o.output());
        long[][] counts = {manifest.table(Image.DISK).countByKind(), manifest.table(Image.MEMORY).countByKind()};
        return new CreateSummary(done.id(), counts, plan.payloadCount, o.dedup(), plan.duplicateChunks,
            segments.size(), payloadBytes, done.total(), input, done.manifestBytes(), System.nanoTime() - started,
            index[0].fromCache() && index[1].fromCache());
      } finally {
        Files.deleteIfExists(data);
        Files.deleteIfExists(whole);
      }
    } finally {
      pool.shutdownNow();
      if (!pool.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS)) {
        LOG.warn("create: worker threads still busy 30 s after the end");
      }
      for (ImageFile f : open) {
        f.close();
      }
    }
  }

  private static ImageFile open(List<ImageFile> open, Path p, String role) throws IOException {
    if (p == null) {
      throw new IOException(role + " not given");
    }
    ImageFile f = ImageFile.openSparse(p, role);
    open.add(f);
    return f;
  }

  /** What {@link #finish} made: the overlay's id, its stored manifest's size and the file's size. */
  record Finished(String id, int manifestBytes, long total) {}

  /**
   * Writes header + stored manifest + {@code data} (attachments and segments) into {@code whole} and
   * renames it to {@code output}: the last step of create and reorder.
   *
   * @param version the format version in the header: it gives the meaning of the manifest's base digests
   */
  static Finished finish(int version, Manifest manifest, Path data, Path whole, Path output) throws IOException {
    byte[] raw = ManifestCodec.encode(manifest);
    byte[] stored = ManifestCodec.compress(raw);
    byte[] id = Sha256.of(stored);
    OverlayHeader header = new OverlayHeader(version, stored.length, raw.length, id);
    long total;
    try {
      total = assemble(whole, header, stored, data);
    } catch (OutputException e) {
      throw e.named(output);
    }
    Files.move(whole, output, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    return new Finished(Hex.of(id), stored.length, total);
  }

  static Path temp(Path output, String what) {
    return output.toAbsolutePath().resolveSibling("." + output.getFileName() + "." + what + "-"
        + ProcessHandle.current().pid());
  }

  private static long writeAttachments(CreateOptions o, FileChannel out, List<Attachment> into) throws IOException {
    long offset = 0;
    Path[] files = {o.vmstate(), o.vmConfig()};
    String[] names = {Attachment.VMSTATE, Attachment.VM_CONFIG};
    for (int i = 0; i < files.length; i++) {
      if (files[i] == null) {
        continue;
      }
      if (!Files.isRegularFile(files[i])) {
        throw new java.nio.file.NoSuchFileException(files[i].toString(), null, names[i] + " not found");
      }
      if (Files.size(files[i]) > ManifestCodec.MAX_ATTACHMENT_BYTES) {
        throw new IOException(files[i] + " is too large for an attachment (over 1 GiB)");
      }
      byte[] raw = Files.readAllBytes(files[i]);
      byte[] frame = Zstd.compress(raw, o.level());
      writeFully(out, frame);
      into.add(new Attachment(names[i], offset, frame.length, raw.length, Sha256.of(frame)));
      offset += frame.length;
    }
    return offset;
  }

  /** Encodes payloads {@code [first, first + count)} into one segment (runs on a pool thread). */
  @FunctionalInterface
  interface SegmentTask {
    SegmentEncoder.Encoded encode(int first, int count) throws IOException;
  }

  /**
   * Cuts payloads {@code 0..payloads-1} (in that order) into segments of about {@code segmentSize} chunk
   * bytes ({@code length} of each), encodes them with {@code task} on the pool, at most 2 per thread in
   * flight, and appends them to {@code out} in order; {@code done} sees each one on this thread.
   *
   * @return the chunk bytes of all payloads
   */
  static long writeSegments(int payloads, java.util.function.IntToLongFunction length, int segmentSize, int threads,
      ExecutorService pool, SegmentTask task, FileChannel out, long offset, List<Segment> into,
      java.util.function.Consumer<SegmentEncoder.Encoded> done) throws IOException, InterruptedException {
    ArrayDeque<Future<SegmentEncoder.Encoded>> window = new ArrayDeque<>();
    long payloadBytes = 0;
    int first = 0;
    while (first < payloads || !window.isEmpty()) {
      while (first < payloads && window.size() < 2 * threads + 1) {
        int count = 0;
        long bytes = 0;
        while (first + count < payloads && bytes < segmentSize) {
          bytes += length.applyAsLong(first + count);
          count++;
        }
        int f = first;
        int c = count;
        window.add(pool.submit(() -> task.encode(f, c)));
        first += count;
        payloadBytes += bytes;
      }
      SegmentEncoder.Encoded e = Futures.get(window.poll());
      writeFully(out, e.frame());
      // offsets are relative to the data area, which starts with the attachments
      into.add(new Segment(into.size(), offset, e.frame().length, e.rawLength(), e.first(), e.count(), e.sha256()));
      offset += e.frame().length;
      done.accept(e);
    }
    return payloadBytes;
  }

  private static ChunkTable[] tables(PayloadPlan plan, BitSet deltas) {
    ChunkTable[] tables = new ChunkTable[plan.changes.length];
    for (int image = 0; image < tables.length; image++) {
      ChangeScanner.Changes ch = plan.changes[image];
      ChunkTable.Builder b = new ChunkTable.Builder();
      for (int i = 0; i < ch.size(); i++) {
        ChunkKind kind = ChunkKind.ofCode(ch.kinds()[i]);
        if (kind == ChunkKind.DATA) {
          int p = plan.payloadOf[image][i];
          b.add(ch.chunks()[i], deltas.get(p) ? ChunkKind.DELTA : ChunkKind.DATA, p);
        } else {
          b.add(ch.chunks()[i], kind, ch.args()[i]);
        }
      }
      tables[image] = b.build();
    }
    return tables;
  }

  /** Writes header, stored manifest and the data area into {@code whole} and forces it; returns its length. */
  static long assemble(Path whole, OverlayHeader header, byte[] manifest, Path data) throws IOException {
    try (FileChannel out = FileChannel.open(whole, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        FileChannel in = FileChannel.open(data, StandardOpenOption.READ)) {
      writeFully(out, header.encode());
      writeFully(out, manifest);
      long pos = out.position();
      long size = in.size();
      for (long done = 0; done < size; ) {
        long n;
        try {
          n = out.transferFrom(in, pos + done, size - done);
        } catch (IOException e) {
          throw new OutputException(e);
        }
        if (n <= 0) {
          throw new IOException("cannot copy the data area into " + whole + " (at " + done + " of " + size + ")");
        }
        done += n;
      }
      try {
        out.force(true);
      } catch (IOException e) {
        throw new OutputException(e);
      }
      return pos + size;
    }
  }

  static void writeFully(FileChannel out, byte[] bytes) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(bytes);
    try {
      while (b.hasRemaining()) {
        out.write(b);
      }
    } catch (IOException e) {
      throw new OutputException(e);
    }
  }

  /** A failed write to the overlay being made (disk full, I/O error), renamed after the output file. */
  static final class OutputException extends IOException {
    private static final long serialVersionUID = 1L;

    OutputException(IOException cause) {
      super(cause.getMessage(), cause);
    }

    IOException named(Path output) {
      return new IOException("cannot write " + output + ": " + getMessage(), getCause());
    }
  }
}
