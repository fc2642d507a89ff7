package io.earlystart.overlay.create;

import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
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
    long[] key = untouched(m.payloadCount());
    for (Image image : Image.values()) {
      ChunkTable t = m.table(image);
      for (int e = 0; e < t.size(); e++) {
        if (t.kind(e).hasPayload()) {
          touch(key, t.arg(e), order.firstTouch(image, t.chunk(e)));
        }
      }
    }
    return key;
  }

  /** Keys for {@code payloads} payloads, none touched yet. */
  static long[] untouched(int payloads) {
    long[] key = new long[payloads];
    Arrays.fill(key, Long.MAX_VALUE);
    return key;
  }

  /** Keeps {@code t} as payload {@code p}'s key when it is a touch (not negative) earlier than its key. */
  static void touch(long[] key, int p, long t) {
    if (t >= 0 && t < key[p]) {
      key[p] = t;
    }
  }
}
