package io.earlystart.overlay.create;

import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDictContentType;
import io.earlystart.overlay.format.Manifest;

/**
 * Encodes DELTA payloads ({@link io.earlystart.overlay.synthesize.SegmentWriter} decodes them): a chunk compressed by zstd with the base chunk at the same offset as raw-content
 * dictionary, as a magicless frame without checksum or dictionary id (the segment's SHA-256 already
 * covers it). One instance per thread: it owns three native compression contexts. Not thread-safe.
 */
public final class DeltaCodec implements AutoCloseable {
  /** Level of the quick trial that decides whether a delta is worth making at the full level. */
  static final int TRIAL_LEVEL = 1;

  private final ZstdCompressCtx deltaCtx = new ZstdCompressCtx();
  private final ZstdCompressCtx trialDeltaCtx = new ZstdCompressCtx();
  private final ZstdCompressCtx trialPlainCtx = new ZstdCompressCtx();
  private final byte[] scratch = new byte[2 * Manifest.CHUNK_SIZE + 128];

  public DeltaCodec(int level) {
    deltaCtx.setLevel(level);
    trialDeltaCtx.setLevel(Math.min(level, TRIAL_LEVEL));
    trialPlainCtx.setLevel(Math.min(level, TRIAL_LEVEL));
    for (ZstdCompressCtx c : new ZstdCompressCtx[] {deltaCtx, trialDeltaCtx, trialPlainCtx}) {
      c.setMagicless(true).setChecksum(false).setDictID(false).setContentSize(false);
    }
  }

  /**
   * The delta of {@code chunk} against {@code base} if it is worth having, else null. A quick trial
   * at level 1 compares the delta with the chunk compressed alone (the segment frame will compress a
   * DATA payload at least that well); only a winner is compressed again at the full level. Most
   * candidates lose, so this costs about two fast compressions per candidate instead of two slow ones.
   */
  public byte[] encodeIfSmaller(byte[] chunk, int len, byte[] base) {
    trialDeltaCtx.loadDict(base, ZstdDictContentType.RAW_CONTENT);
    int delta = trialDeltaCtx.compressByteArray(scratch, 0, scratch.length, chunk, 0, len);
    int plain = trialPlainCtx.compressByteArray(scratch, 0, scratch.length, chunk, 0, len);
    if (delta >= plain) {
      return null;
    }
    return encode(chunk, len, base);
  }

  /** The delta of {@code chunk} against {@code base} at the full level. */
  public byte[] encode(byte[] chunk, int len, byte[] base) {
    deltaCtx.loadDict(base, ZstdDictContentType.RAW_CONTENT);
    int n = deltaCtx.compressByteArray(scratch, 0, scratch.length, chunk, 0, len);
    return java.util.Arrays.copyOf(scratch, n);
  }

  @Override
  public void close() {
    deltaCtx.close();
    trialDeltaCtx.close();
    trialPlainCtx.close();
  }
}
