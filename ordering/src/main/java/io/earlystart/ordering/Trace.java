package io.earlystart.ordering;

import io.earlystart.overlay.format.Image;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * An access trace read back from its file (format: the module's README.md): the overlay it was
 * recorded against, the wall-clock start, the touch records in file order and the marks.
 *
 * <p>Records are stored in three primitive arrays, not one object each. File order is the order in
 * which concurrent writers took the writer's lock, so times may step back by up to a lock wait;
 * {@link #firstTouches} orders by time.
 *
 * <p>Immutable and thread-safe; holds no file handle.
 */
public final class Trace {
  private static final Image[] IMAGES = Image.values();

  private final Path file;
  private final String overlayId;
  private final long startEpochNanos;
  private final long[] nanos;
  private final byte[] images;
  private final int[] chunks;
  private final Map<String, Long> marks;
  private final long ignoredTailBytes;

  Trace(Path file, String overlayId, long startEpochNanos, long[] nanos, byte[] images, int[] chunks,
      Map<String, Long> marks, long ignoredTailBytes) {
    this.file = file;
    this.overlayId = overlayId;
    this.startEpochNanos = startEpochNanos;
    this.nanos = nanos;
    this.images = images;
    this.chunks = chunks;
    this.marks = marks;
    this.ignoredTailBytes = ignoredTailBytes;
  }

  /**
   * Reads and checks a whole trace. A file that a killed writer left behind is accepted: a last
   * record cut short, or a tail of zero bytes (a crash before data reached the device), is ignored
   * and counted in {@link #ignoredTailBytes()}. A malformed record anywhere before that is rejected.
   * A trace still being written is read up to the size it had when opened.
   *
   * @throws CorruptTraceException not a trace, a header checksum mismatch, or a malformed record;
   *     the message names the file and the offset
   * @throws UnsupportedTraceVersionException a format version outside the range this build reads
   */
  public static Trace read(Path file) throws IOException {
    try (TraceReader reader = new TraceReader(file)) {
      return reader.read();
    }
  }

  public Path file() {
    return file;
  }

  /** The overlay id from the header: 64 lower-case hex digits. */
  public String overlayId() {
    return overlayId;
  }

  /** Wall-clock time at which the trace started, in nanoseconds since the epoch. */
  public Instant start() {
    return Instant.ofEpochSecond(0, startEpochNanos);
  }

  /** Number of touch records (marks not included). */
  public int size() {
    return nanos.length;
  }

  /** Time of touch record {@code i} (file order), in nanoseconds since the start. */
  public long nanos(int i) {
    return nanos[Objects.checkIndex(i, nanos.length)];
  }

  public Image image(int i) {
    return IMAGES[images[Objects.checkIndex(i, images.length)]];
  }

  /** The 4 KiB chunk index of touch record {@code i}. */
  public int chunk(int i) {
    return chunks[Objects.checkIndex(i, chunks.length)];
  }

  /** Marks in file order, label to nanoseconds since the start; a repeated label keeps its first time. */
  public Map<String, Long> marks() {
    return marks;
  }

  /** Time of the mark {@code label}, or -1 if the trace has none. */
  public long mark(String label) {
    Long t = marks.get(label);
    return t == null ? -1 : t;
  }

  /** Bytes at the end of the file that were ignored as a torn record or a zero tail. */
  public long ignoredTailBytes() {
    return ignoredTailBytes;
  }

  /** Every chunk of {@code image} touched in the trace, once each, in first-touch order. */
  public int[] firstTouches(Image image) {
    return firstTouches(image, Long.MAX_VALUE, true);
  }

  /**
   * The chunks of {@code image} first touched strictly before the mark {@code label}, once each, in
   * first-touch order.
   *
   * @throws IllegalArgumentException if the trace has no such mark
   */
  public int[] firstTouchesBefore(Image image, String label) {
    long end = mark(label);
    if (end < 0) {
      throw new IllegalArgumentException(file + ": no mark \"" + label + "\"; marks are " + marks.keySet());
    }
    return firstTouches(image, end, false);
  }

  /**
   * The chunks of {@code image} first touched strictly before {@code endNanos}, once each, in
   * first-touch order: by time, records with equal times in file order. A chunk touched again later
   * counts only at its first touch.
   */
  public int[] firstTouchesBefore(Image image, long endNanos) {
    return firstTouches(image, endNanos, false);
  }

  private int[] firstTouches(Image image, long end, boolean all) {
    byte wanted = (byte) image.ordinal();
    int[] records = new int[nanos.length];
    int m = 0;
    for (int i = 0; i < nanos.length; i++) {
      if (images[i] == wanted && (all || nanos[i] < end)) {
        records[m++] = i;
      }
    }
    // Time order without boxing: key = (rank of the time among the candidates' times, candidate).
    long[] times = new long[m];
    for (int k = 0; k < m; k++) {
      times[k] = nanos[records[k]];
    }
    Arrays.sort(times);
    long[] byTime = new long[m];
    for (int k = 0; k < m; k++) {
      byTime[k] = (long) Arrays.binarySearch(times, nanos[records[k]]) << 32 | k;
    }
    Arrays.sort(byTime);
    // Group by chunk, keeping each group's earliest position p in byTime.
    long[] byChunk = new long[m];
    for (int p = 0; p < m; p++) {
      byChunk[p] = (long) chunks[records[(int) byTime[p]]] << 32 | p;
    }
    Arrays.sort(byChunk);
    boolean[] first = new boolean[m];
    int count = 0;
    for (int q = 0; q < m; q++) {
      if (q == 0 || byChunk[q] >>> 32 != byChunk[q - 1] >>> 32) {
        first[(int) byChunk[q]] = true;
        count++;
      }
    }
    int[] out = new int[count];
    int j = 0;
    for (int p = 0; p < m; p++) {
      if (first[p]) {
        out[j++] = chunks[records[(int) byTime[p]]];
      }
    }
    return out;
  }
}
