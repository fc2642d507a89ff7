package io.earlystart.overlay.create;

import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.format.SegmentCodec;
import io.earlystart.overlay.io.Sha256;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * {@code earlystart reorder}: puts an existing overlay's stream in a new {@link AccessOrder} without
 * the images: every payload (DATA bytes or DELTA as stored) is taken from its segment, payloads are
 * renumbered by first touch, cut into new segments of about {@code segmentSize} chunk bytes (as
 * {@code create} cuts) and
 * compressed again; chunk kinds, base ids, sizes and attachments stay as they are, so the result
 * synthesizes to the same images (it is a new overlay, with a new id). The format version stays the
 * input's too: the base digests are copied, and the version says which digest they are. Holds the
 * payloads of the whole overlay in memory while it works. Stateless.
 */
public final class OverlayReorderer {
  private OverlayReorderer() {}

  /** What a reorder did. */
  public record Summary(String inputId, String outputId, int payloads, int touchedPayloads, int segments,
      long overlayBytes, long elapsedNanos) {}

  public static Summary reorder(Path input, AccessOrder order, Path output, int segmentSize, int level, int threads)
      throws IOException, InterruptedException {
    long started = System.nanoTime();
    Path dir = output.toAbsolutePath().getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new IOException("output directory " + dir + " does not exist");
    }
    try (OverlayFile in = OverlayFile.open(input)) {
      Manifest m = in.manifest();
      byte[][] payloads = payloads(in, m);
      long[] key = StreamOrder.keys(m, order);
      int[] newId = StreamOrder.rank(key);
      int[] oldOf = new int[newId.length];
      int touched = 0;
      for (int p = 0; p < newId.length; p++) {
        oldOf[newId[p]] = p;
        if (key[p] != Long.MAX_VALUE) {
          touched++;
        }
      }
      Path data = OverlayCreator.temp(output, "data");
      Path whole = OverlayCreator.temp(output, "tmp");
      try {
        List<Attachment> attachments = new ArrayList<>();
        List<Segment> segments = new ArrayList<>();
        try (FileChannel out = FileChannel.open(data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
          long offset = 0;
          for (Attachment a : m.attachments()) { // the stored frames as they are: only their offsets change
            OverlayCreator.writeFully(out, in.readAttachmentFrame(a));
            attachments.add(new Attachment(a.name(), offset, a.length(), a.rawLength(), a.sha256()));
            offset += a.length();
          }
          writeSegments(payloads, chunkLengths(m), oldOf, segmentSize, level, threads, out, offset, segments);
        } catch (OverlayCreator.OutputException e) {
          throw e.named(output);
        }
        Manifest reordered = new Manifest(m.chunkSize(), m.bases(), m.imageSizes(), renumber(m, newId),
            m.payloadCount(), attachments, segments);
        OverlayCreator.Finished done = OverlayCreator.finish(in.header().version(), reordered, data, whole,
            output);
        return new Summary(in.id(), done.id(), m.payloadCount(), touched, segments.size(), done.total(),
            System.nanoTime() - started);
      } finally {
        Files.deleteIfExists(data);
        Files.deleteIfExists(whole);
      }
    }
  }

  /** Every payload's stored bytes, by payload id, from the verified segments. */
  private static byte[][] payloads(OverlayFile in, Manifest m) throws IOException {
    byte[][] all = new byte[m.payloadCount()][];
    try (ZstdDecompressCtx ctx = new ZstdDecompressCtx()) {
      for (Segment s : m.segments()) {
        SegmentCodec.Payloads p = SegmentCodec.decode(ctx, in.readSegment(s), s, in.describe());
        for (int i = 0; i < p.count(); i++) {
          all[s.firstPayload() + i] = java.util.Arrays.copyOfRange(p.body(), p.offset(i), p.offset(i) + p.length(i));
        }
      }
    }
    return all;
  }

  /** Cuts the payloads, in new-id order, into segments and compresses them on {@code threads} threads. */
  private static void writeSegments(byte[][] payloads, int[] chunkLength, int[] oldOf, int segmentSize, int level,
      int threads, FileChannel out, long offset, List<Segment> into) throws IOException, InterruptedException {
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "earlystart-reorder");
      t.setDaemon(true);
      return t;
    });
    try {
      OverlayCreator.writeSegments(oldOf.length, p -> chunkLength[oldOf[p]], segmentSize, threads, pool,
          (first, count) -> {
            SegmentCodec.Builder body = new SegmentCodec.Builder((int) Math.min(Integer.MAX_VALUE - 64,
                segmentSize * 2L));
            for (int i = 0; i < count; i++) {
              byte[] p = payloads[oldOf[first + i]];
              body.add(p, 0, p.length);
            }
            byte[] raw = body.body();
            try (ZstdCompressCtx ctx = new ZstdCompressCtx()) {
              ctx.setLevel(level).setChecksum(false).setContentSize(true);
              byte[] frame = SegmentCodec.compress(ctx, raw);
              return new SegmentEncoder.Encoded(first, count, frame, raw.length, Sha256.of(frame),
                  new java.util.BitSet());
            }
          }, out, offset, into, e -> { });
    } finally {
      pool.shutdownNow();
    }
  }

  /** Per payload: the length of the chunk(s) it stands for. */
  private static int[] chunkLengths(Manifest m) {
    int[] len = new int[m.payloadCount()];
    for (Image image : Image.values()) {
      ChunkTable t = m.table(image);
      for (int e = 0; e < t.size(); e++) {
        if (t.kind(e).hasPayload()) {
          len[t.arg(e)] = Manifest.chunkLength(m.imageSize(image), m.chunkSize(), t.chunk(e));
        }
      }
    }
    return len;
  }

  /** The chunk tables with DATA/DELTA arguments renumbered. */
  private static ChunkTable[] renumber(Manifest m, int[] newId) {
    ChunkTable[] tables = new ChunkTable[m.tables().length];
    for (Image image : Image.values()) {
      ChunkTable t = m.table(image);
      ChunkTable.Builder b = new ChunkTable.Builder();
      for (int e = 0; e < t.size(); e++) {
        ChunkKind kind = t.kind(e);
        b.add(t.chunk(e), kind, kind.hasPayload() ? newId[t.arg(e)] : t.arg(e));
      }
      tables[image.ordinal()] = b.build();
    }
    return tables;
  }
}
