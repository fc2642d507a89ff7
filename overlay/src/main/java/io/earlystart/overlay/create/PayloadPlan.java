package io.earlystart.overlay.create;

import io.earlystart.overlay.base.BaseIndex;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkRef;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.io.ImageFile;
import java.io.IOException;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * Pass two of {@code create}: gives every distinct new chunk content one payload id, in stream order
 * (disk chunks, then memory chunks, each in offset order; {@link #reordered} puts it in access order), so that chunks with equal bytes
 * anywhere in the customised images share one payload (self dedup, confirmed by comparing bytes).
 * Without dedup every DATA chunk gets a payload of its own. A payload used by one chunk whose base chunk
 * at the same offset is non-zero and full-length is a DELTA candidate; the encoder keeps the delta only
 * where it is smaller. Not thread-safe; immutable once built.
 */
final class PayloadPlan {
  private static final int CS = Manifest.CHUNK_SIZE;

  final ChangeScanner.Changes[] changes;
  /** Per image, per change entry: its payload id, or -1. */
  final int[][] payloadOf;
  /** Per payload: the {@link ChunkRef} of the chunk that supplies its bytes. */
  final long[] sources;
  final BitSet deltaCandidates;
  final int payloadCount;
  final long duplicateChunks;

  private PayloadPlan(ChangeScanner.Changes[] changes, int[][] payloadOf, long[] sources, BitSet deltaCandidates,
      int payloadCount, long duplicateChunks) {
    this.changes = changes;
    this.payloadOf = payloadOf;
    this.sources = sources;
    this.deltaCandidates = deltaCandidates;
    this.payloadCount = payloadCount;
    this.duplicateChunks = duplicateChunks;
  }

  /** @param dedup whether equal new chunks share one payload (the scan must then have hashed them) */
  static PayloadPlan build(ChangeScanner.Changes[] changes, ImageFile[] customs, BaseIndex[] bases, boolean dedup)
      throws IOException {
    int[][] payloadOf = new int[changes.length][];
    long[] sources = new long[64];
    int[] refs = new int[64];
    int count = 0;
    long duplicates = 0;
    Map<Long, Integer> byHash = new HashMap<>();
    byte[] a = new byte[CS];
    byte[] b = new byte[CS];
    for (ChangeScanner.Changes ch : changes) {
      int image = ch.image().ordinal();
      int[] ids = new int[ch.size()];
      Arrays.fill(ids, -1);
      for (int i = 0; i < ch.size(); i++) {
        if (ch.kinds()[i] != ChunkKind.DATA.code) {
          continue;
        }
        long here = ChunkRef.of(image, ch.chunks()[i]);
        Integer earlier = dedup ? byHash.get(ch.hashes()[i]) : null;
        if (earlier != null && sameBytes(customs, sources[earlier], here, a, b)) {
          ids[i] = earlier;
          refs[earlier]++;
          duplicates++;
          continue;
        }
        if (count == sources.length) {
          sources = Arrays.copyOf(sources, count * 2);
          refs = Arrays.copyOf(refs, count * 2);
        }
        sources[count] = here;
        refs[count] = 1;
        if (dedup && earlier == null) {
          byHash.put(ch.hashes()[i], count);
        }
        ids[i] = count++;
      }
      payloadOf[image] = ids;
    }
    BitSet delta = new BitSet(count);
    for (int p = 0; p < count; p++) {
      int image = ChunkRef.image(sources[p]);
      long chunk = ChunkRef.chunk(sources[p]);
      BaseIndex base = bases[image];
      boolean fullInBase = (chunk + 1) * CS <= base.size() && (chunk + 1) * CS <= customs[image].size();
      if (refs[p] == 1 && fullInBase && !base.isZero((int) chunk)) {
        delta.set(p);
      }
    }
    return new PayloadPlan(changes, payloadOf, Arrays.copyOf(sources, count), delta, count, duplicates);
  }

  /**
   * The same plan with payload ids renumbered in stream order by {@code order}: by the earliest first
   * touch of any chunk that uses the payload, then untouched payloads in their current order. Segments
   * are cut from consecutive ids, so this is the order of the stream.
   */
  PayloadPlan reordered(AccessOrder order) {
    int[] newId = streamOrder(payloadCount, changes, payloadOf, order);
    long[] newSources = new long[payloadCount];
    BitSet newDelta = new BitSet(payloadCount);
    for (int p = 0; p < payloadCount; p++) {
      newSources[newId[p]] = sources[p];
      if (deltaCandidates.get(p)) {
        newDelta.set(newId[p]);
      }
    }
    int[][] newPayloadOf = new int[payloadOf.length][];
    for (int image = 0; image < payloadOf.length; image++) {
      newPayloadOf[image] = payloadOf[image].clone();
      for (int i = 0; i < newPayloadOf[image].length; i++) {
        if (newPayloadOf[image][i] >= 0) {
          newPayloadOf[image][i] = newId[newPayloadOf[image][i]];
        }
      }
    }
    return new PayloadPlan(changes, newPayloadOf, newSources, newDelta, payloadCount, duplicateChunks);
  }

  /** New id of each payload: see {@link #reordered}. */
  private static int[] streamOrder(int count, ChangeScanner.Changes[] changes, int[][] payloadOf, AccessOrder order) {
    long[] key = StreamOrder.untouched(count);
    for (ChangeScanner.Changes ch : changes) {
      int image = ch.image().ordinal();
      for (int i = 0; i < ch.size(); i++) {
        int p = payloadOf[image][i];
        if (p >= 0) {
          StreamOrder.touch(key, p, order.firstTouch(ch.image(), ch.chunks()[i]));
        }
      }
    }
    return StreamOrder.rank(key);
  }

  private static boolean sameBytes(ImageFile[] customs, long x, long y, byte[] a, byte[] b) throws IOException {
    int lx = read(customs, x, a);
    int ly = read(customs, y, b);
    return lx == ly && Arrays.equals(a, 0, lx, b, 0, ly);
  }

  /** Reads the chunk at {@code loc} into {@code dst}; returns its length. */
  static int read(ImageFile[] customs, long loc, byte[] dst) throws IOException {
    ImageFile f = customs[ChunkRef.image(loc)];
    long chunk = ChunkRef.chunk(loc);
    int len = Manifest.chunkLength(f.size(), CS, chunk);
    f.read(chunk * CS, dst, 0, len);
    return len;
  }

  /** Length of payload {@code p}'s chunk. */
  int length(ImageFile[] customs, int p) {
    ImageFile f = customs[ChunkRef.image(sources[p])];
    return Manifest.chunkLength(f.size(), CS, ChunkRef.chunk(sources[p]));
  }
}
