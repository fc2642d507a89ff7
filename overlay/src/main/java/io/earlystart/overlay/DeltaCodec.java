package io.earlystart.overlay;

import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdDictContentType;
import com.github.luben.zstd.ZstdException;

/**
 * DELTA payloads: a chunk compressed by zstd with the base chunk at the same offset as raw-content
 * dictionary, as a magicless frame without checksum or dictionary id (the segment's SHA-256 already
 * covers it). One instance per thread: it owns two native contexts. Not thread-safe.
 */
public final class DeltaCodec implements AutoCloseable {
  private final ZstdCompressCtx deltaCtx = new ZstdCompressCtx();
  private final ZstdCompressCtx plainCtx = new ZstdCompressCtx();
  private final ZstdDecompressCtx decompressCtx = new ZstdDecompressCtx();

  public DeltaCodec(int level) {
    for (ZstdCompressCtx c : new ZstdCompressCtx[] {deltaCtx, plainCtx}) {
      c.setLevel(level).setMagicless(true).setChecksum(false).setDictID(false).setContentSize(false);
    }
    decompressCtx.setMagicless(true);
  }

  /** The delta of {@code chunk} against {@code base}. */
  public byte[] encode(byte[] chunk, int len, byte[] base) {
    deltaCtx.loadDict(base, ZstdDictContentType.RAW_CONTENT);
    byte[] dst = new byte[len + 128];
    int n = deltaCtx.compressByteArray(dst, 0, dst.length, chunk, 0, len);
    return java.util.Arrays.copyOf(dst, n);
  }

  /** What the chunk alone costs compressed at the same level: the bar a delta must beat. */
  public int plainSize(byte[] chunk, int len) {
    byte[] dst = new byte[len + 128];
    return plainCtx.compressByteArray(dst, 0, dst.length, chunk, 0, len);
  }

  /**
   * Decodes a delta into {@code out[0..len)}.
   *
   * @throws CorruptOverlayException if it does not decode to exactly {@code len} bytes
   */
  public void decode(byte[] src, int off, int srcLen, byte[] base, byte[] out, int len, String where)
      throws CorruptOverlayException {
    try {
      decompressCtx.loadDict(base, ZstdDictContentType.RAW_CONTENT);
      int n = decompressCtx.decompressByteArray(out, 0, len, src, off, srcLen);
      if (n != len) {
        throw new CorruptOverlayException(where, -1, "delta decodes to " + n + " bytes, chunk has " + len);
      }
    } catch (ZstdException e) {
      throw new CorruptOverlayException(where, -1, "delta does not decode: " + e.getMessage());
    }
  }

  @Override
  public void close() {
    deltaCtx.close();
    plainCtx.close();
    decompressCtx.close();
  }
}
