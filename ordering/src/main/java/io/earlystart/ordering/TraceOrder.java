package io.earlystart.ordering;

import io.earlystart.overlay.create.AccessOrder;
import io.earlystart.overlay.format.Image;
import java.util.Arrays;
import java.util.List;

/**
 * An {@link AccessOrder} from one or more recorded traces: a chunk's first touch is the earliest time
 * any of the traces saw it (each trace's time runs from its own start, so several recordings of the
 * same start-up merge into "needed this soon in some run"). Immutable; thread-safe.
 */
public final class TraceOrder implements AccessOrder {
  /** Per image: touched chunks in ascending order, and the earliest touch of each. */
  private final int[][] chunks = new int[Image.values().length][];
  private final long[][] nanos = new long[Image.values().length][];

  private TraceOrder() {}

  /** Merges {@code traces} (at least one). */
  public static TraceOrder of(List<Trace> traces) {
    if (traces.isEmpty()) {
      throw new IllegalArgumentException("no trace");
    }
    TraceOrder o = new TraceOrder();
    for (Image image : Image.values()) {
      int n = 0;
      for (Trace t : traces) {
        n += t.size();
      }
      long[] packed = new long[n];
      long[] times = new long[n];
      int k = 0;
      for (Trace t : traces) {
        for (int i = 0; i < t.size(); i++) {
          if (t.image(i) == image) {
            // chunk (< 2^31) in the high bits, so sorting groups a chunk's touches; index for the time
            packed[k] = ((long) t.chunk(i) << 32) | k;
            times[k] = t.nanos(i);
            k++;
          }
        }
      }
      packed = Arrays.copyOf(packed, k);
      Arrays.sort(packed);
      int[] c = new int[k];
      long[] first = new long[k];
      int m = 0;
      for (long p : packed) {
        int chunk = (int) (p >>> 32);
        long time = times[(int) p];
        if (m > 0 && c[m - 1] == chunk) {
          first[m - 1] = Math.min(first[m - 1], time);
        } else {
          c[m] = chunk;
          first[m] = time;
          m++;
        }
      }
      o.chunks[image.ordinal()] = Arrays.copyOf(c, m);
      o.nanos[image.ordinal()] = Arrays.copyOf(first, m);
    }
    return o;
  }

  @Override
  public long firstTouch(Image image, int chunk) {
    int i = Arrays.binarySearch(chunks[image.ordinal()], chunk);
    return i >= 0 ? nanos[image.ordinal()][i] : -1;
  }

  /** Number of distinct chunks of {@code image} the traces touched. */
  public int touched(Image image) {
    return chunks[image.ordinal()].length;
  }
}
