package io.earlystart.overlay;

import java.util.Arrays;

/** Ranks payloads by a first-touch key, ties and untouched ({@code Long.MAX_VALUE}) in id order. Stateless. */
final class StreamOrder {
  private StreamOrder() {}

  /**
   * @param key per payload id: its first-touch time, or {@code Long.MAX_VALUE} if untouched
   * @return per payload id: its new id (rank by key, then by old id)
   */
  static int[] rank(long[] key) {
    int n = key.length;
    Integer[] ids = new Integer[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i;
    }
    Arrays.sort(ids, (a, b) -> key[a] != key[b] ? Long.compare(key[a], key[b]) : Integer.compare(a, b));
    int[] newId = new int[n];
    for (int rank = 0; rank < n; rank++) {
      newId[ids[rank]] = rank;
    }
    return newId;
  }

  /** The first-touch key of every payload of {@code m}: the earliest touch of any chunk that uses it. */
  static long[] keys(Manifest m, AccessOrder order) {
    long[] key = new long[m.payloadCount()];
    Arrays.fill(key, Long.MAX_VALUE);
    for (Image image : Image.values()) {
      ChunkTable t = m.table(image);
      for (int e = 0; e < t.size(); e++) {
        if (t.kind(e).hasPayload()) {
          long touch = order.firstTouch(image, t.chunk(e));
          int p = t.arg(e);
          if (touch >= 0 && touch < key[p]) {
            key[p] = touch;
          }
        }
      }
    }
    return key;
  }
}
