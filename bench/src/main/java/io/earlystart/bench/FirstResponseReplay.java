package io.earlystart.bench;

import io.earlystart.ordering.Trace;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayHeader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.zip.CRC32C;

/**
 * The reads of a recorded trace up to its {@value #MARK} mark, ready to replay against any pair of
 * {@code disk.img} / {@code memory.img}: each chunk first touched before the mark, once, in
 * first-touch order across both images (by time, ties in file order). Consecutive chunks of one image
 * in that order are coalesced into one read of at most {@value #MAX_RUN_CHUNKS} chunks (128 KiB, the
 * mount's {@code max_read}); nothing else is reordered. One thread replays, as fast as it can.
 *
 * <p>A replay is not thread-safe (one read buffer); the plan itself is immutable.
 */
final class FirstResponseReplay {
  static final String MARK = "first-response";
  static final int MAX_RUN_CHUNKS = 32;
  private static final int CS = Manifest.CHUNK_SIZE;

  private final int[] runImage;
  private final int[] runStart;
  private final int[] runLength;
  private final int[] chunks = new int[2];
  private final int touchesAfter;
  private final long markNanos;
  private final List<int[]> order; // {image, chunk}, for the summary
  private final ByteBuffer buf = ByteBuffer.allocateDirect(MAX_RUN_CHUNKS * CS);

  private FirstResponseReplay(List<int[]> order, int touchesAfter, long markNanos) {
    this.order = order;
    this.touchesAfter = touchesAfter;
    this.markNanos = markNanos;
    List<int[]> runs = new ArrayList<>();
    int[] cur = null;
    for (int[] t : order) {
      chunks[t[0]]++;
      if (cur != null && cur[0] == t[0] && cur[1] + cur[2] == t[1] && cur[2] < MAX_RUN_CHUNKS) {
        cur[2]++;
      } else {
        cur = new int[] {t[0], t[1], 1};
        runs.add(cur);
      }
    }
    runImage = runs.stream().mapToInt(r -> r[0]).toArray();
    runStart = runs.stream().mapToInt(r -> r[1]).toArray();
    runLength = runs.stream().mapToInt(r -> r[2]).toArray();
  }

  /** The first touches of {@code trace} strictly before its {@value #MARK} mark. */
  static FirstResponseReplay of(Trace trace) {
    long end = trace.mark(MARK);
    if (end < 0) {
      throw new IllegalArgumentException(trace.file() + ": no mark \"" + MARK + "\"; marks are "
          + trace.marks().keySet());
    }
    List<Integer> before = new ArrayList<>();
    for (int i = 0; i < trace.size(); i++) {
      if (trace.nanos(i) < end) {
        before.add(i);
      }
    }
    before.sort(Comparator.<Integer>comparingLong(trace::nanos).thenComparingInt(i -> i));
    BitSet[] seen = {new BitSet(), new BitSet()};
    List<int[]> order = new ArrayList<>();
    for (int i : before) {
      int image = trace.image(i).ordinal();
      int chunk = trace.chunk(i);
      if (!seen[image].get(chunk)) {
        seen[image].set(chunk);
        order.add(new int[] {image, chunk});
      }
    }
    int after = trace.firstTouches(Image.DISK).length + trace.firstTouches(Image.MEMORY).length - order.size();
    return new FirstResponseReplay(order, after, end);
  }

  /**
   * Reads every run from {@code disk} and {@code memory} with positional reads; returns the CRC32C of
   * all bytes read in replay order (the same for every correct pair of images).
   *
   * @throws IOException a read error, or end of file inside a run
   */
  long replay(FileChannel disk, FileChannel memory) throws IOException {
    CRC32C crc = new CRC32C();
    for (int r = 0; r < runImage.length; r++) {
      FileChannel ch = runImage[r] == Image.DISK.ordinal() ? disk : memory;
      long pos = (long) runStart[r] * CS;
      buf.clear().limit(runLength[r] * CS);
      while (buf.hasRemaining()) {
        if (ch.read(buf, pos + buf.position()) < 0) {
          throw new IOException("end of file in " + Image.values()[runImage[r]].fileName + " at "
              + (pos + buf.position()));
        }
      }
      buf.flip();
      crc.update(buf);
    }
    return crc.getValue();
  }

  int reads() {
    return runImage.length;
  }

  long bytes() {
    return (long) (chunks[0] + chunks[1]) * CS;
  }

  /** Stored bytes a client must receive before the mark at least: header + manifest, attachments, segments needed. */
  record Needed(long headBytes, long attachmentBytes, int segments, long segmentBytes, long[] byKind, int base) {
    long total() {
      return headBytes + attachmentBytes + segmentBytes;
    }
  }

  /** What the replayed chunks are in {@code m}, and which segments hold their payloads. */
  Needed needed(OverlayHeader h, Manifest m) {
    long[] byKind = new long[ChunkKind.values().length];
    int base = 0;
    BitSet segs = new BitSet();
    for (int[] t : order) {
      ChunkKind k = markNeeded(m, Image.values()[t[0]], t[1], segs);
      if (k == null) {
        base++;
      } else {
        byKind[k.ordinal()]++;
      }
    }
    long segBytes = segmentBytes(m, segs);
    long att = m.attachments().stream().mapToLong(Attachment::length).sum();
    return new Needed(h.dataStart(), att, segs.cardinality(), segBytes, byKind, base);
  }

  /**
   * Marks in {@code segs} the segment holding {@code chunk}'s payload, if it has one; returns the chunk's
   * kind, or null when it is unchanged from the base.
   */
  static ChunkKind markNeeded(Manifest m, Image image, int chunk, BitSet segs) {
    ChunkTable table = m.table(image);
    int e = table.find(chunk);
    if (e < 0) {
      return null;
    }
    ChunkKind k = table.kind(e);
    if (k.hasPayload()) {
      segs.set(m.segmentOf(table.arg(e)).index());
    }
    return k;
  }

  /** Stored bytes of the segments in {@code segs}. */
  static long segmentBytes(Manifest m, BitSet segs) {
    return segs.stream().mapToLong(i -> m.segments().get(i).length()).sum();
  }

  /** One paragraph for the log: the trace up to the mark against the overlay and the link. */
  String describe(Needed n, Manifest m, long overlayFileBytes, long bytesPerSecond) {
    StringBuilder kinds = new StringBuilder("unchanged " + n.base());
    for (ChunkKind k : ChunkKind.values()) {
      kinds.append(", ").append(k.name().toLowerCase(Locale.ROOT).replace('_', '-')).append(' ')
          .append(n.byKind()[k.ordinal()]);
    }
    String s = String.format(Locale.ROOT,
        "trace before the mark \"%s\" (%.3f s into the recording): %d chunks = %d bytes (disk %d, memory %d) in %d"
            + " reads of <= %d KiB; %d more chunks first touched after it. Kinds: %s. They need %d of %d segments"
            + " = %d bytes, + head %d + attachments %d = %d bytes (%.1f %% of the %d-byte overlay)",
        MARK, markNanos / 1e9, chunks[0] + chunks[1], bytes(), chunks[0], chunks[1], reads(),
        MAX_RUN_CHUNKS * CS / 1024,
        touchesAfter, kinds, n.segments(), m.segments().size(), n.segmentBytes(), n.headBytes(),
        n.attachmentBytes(), n.total(), 100.0 * n.total() / overlayFileBytes, overlayFileBytes);
    if (bytesPerSecond > 0) {
      s += String.format(Locale.ROOT, "; at %d bytes/s: needed/rate %.3f s, overlay/rate %.3f s", bytesPerSecond,
          n.total() / (double) bytesPerSecond, overlayFileBytes / (double) bytesPerSecond);
    }
    return s;
  }
}
