package io.earlystart.overlay.create;

import com.github.luben.zstd.ZstdCompressCtx;
import io.earlystart.overlay.format.ChunkRef;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.SegmentCodec;
import io.earlystart.overlay.io.ImageFile;
import io.earlystart.overlay.io.Sha256;
import java.io.IOException;
import java.util.BitSet;

/**
 * Encodes one segment of a {@link PayloadPlan}: reads each payload's chunk, keeps a DELTA where a
 * quick trial shows it beats the chunk compressed alone, and compresses the body as one zstd frame. {@link #encode} is
 * thread-safe (each call owns its native contexts).
 */
final class SegmentEncoder {
  private static final int CS = Manifest.CHUNK_SIZE;

  /** A compressed segment and which of its payloads became DELTA (bit i = payload first + i). */
  record Encoded(int first, int count, byte[] frame, int rawLength, byte[] sha256, BitSet deltas) {}

  private final PayloadPlan plan;
  private final ImageFile[] customs;
  private final ImageFile[] bases;
  private final int level;

  SegmentEncoder(PayloadPlan plan, ImageFile[] customs, ImageFile[] bases, int level) {
    this.plan = plan;
    this.customs = customs;
    this.bases = bases;
    this.level = level;
  }

  Encoded encode(int first, int count) throws IOException {
    byte[] chunk = new byte[CS];
    byte[] base = new byte[CS];
    BitSet deltas = new BitSet();
    SegmentCodec.Builder body = new SegmentCodec.Builder(count * CS);
    try (DeltaCodec delta = new DeltaCodec(level); ZstdCompressCtx ctx = new ZstdCompressCtx()) {
      for (int i = 0; i < count; i++) {
        int p = first + i;
        long loc = plan.sources[p];
        int len = PayloadPlan.read(customs, loc, chunk);
        if (plan.deltaCandidates.get(p)) {
          bases[ChunkRef.image(loc)].read(ChunkRef.chunk(loc) * CS, base, 0, len);
          byte[] d = delta.encodeIfSmaller(chunk, len, base);
          if (d != null) {
            body.add(d, 0, d.length);
            deltas.set(i);
            continue;
          }
        }
        body.add(chunk, 0, len);
      }
      ctx.setLevel(level).setChecksum(false).setContentSize(true);
      byte[] raw = body.body();
      byte[] frame = SegmentCodec.compress(ctx, raw);
      return new Encoded(first, count, frame, raw.length, Sha256.of(frame), deltas);
    }
  }
}
