package io.earlystart.overlay.format;

import java.util.BitSet;

/**
 * The reverse of the chunk tables: for each payload, the chunks (as {@link ChunkRef}s)
 * that take their bytes from it, and whether it is a DELTA. Immutable; thread-safe.
 */
public final class PayloadRefs {
  private final int[] start;
  private final long[] refs;
  private final BitSet deltas;

  private PayloadRefs(int[] start, long[] refs, BitSet deltas) {
    this.start = start;
    this.refs = refs;
    this.deltas = deltas;
  }

  public static PayloadRefs of(Manifest m) {
    int[] start = new int[m.payloadCount() + 1];
    BitSet deltas = new BitSet(m.payloadCount());
    for (ChunkTable t : m.tables()) {
      for (int e = 0; e < t.size(); e++) {
        if (t.kind(e).hasPayload()) {
          start[t.arg(e) + 1]++;
          if (t.kind(e) == ChunkKind.DELTA) {
            deltas.set(t.arg(e));
          }
        }
      }
    }
    for (int p = 0; p < m.payloadCount(); p++) {
      start[p + 1] += start[p];
    }
    long[] refs = new long[start[m.payloadCount()]];
    int[] fill = start.clone();
    for (Image image : Image.values()) {
      ChunkTable t = m.table(image);
      for (int e = 0; e < t.size(); e++) {
        if (t.kind(e).hasPayload()) {
          refs[fill[t.arg(e)]++] = ChunkRef.of(image, t.chunk(e));
        }
      }
    }
    return new PayloadRefs(start, refs, deltas);
  }

  /** Index of payload {@code p}'s first ref; its refs end at {@code start(p + 1)}. */
  public int start(int p) {
    return start[p];
  }

  public long ref(int i) {
    return refs[i];
  }

  public boolean isDelta(int p) {
    return deltas.get(p);
  }
}
