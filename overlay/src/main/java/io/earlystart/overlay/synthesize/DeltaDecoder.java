package io.earlystart.overlay.synthesize;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdDictContentType;
import com.github.luben.zstd.ZstdException;
import io.earlystart.overlay.create.DeltaCodec;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.Segment;

/**
 * Decodes DELTA payloads made by {@link DeltaCodec}: a magicless zstd frame with the base chunk at the
 * same offset as raw-content dictionary. Owns one native decompression context (no compression
 * contexts, which the segment applier never needs). One instance per thread; not thread-safe.
 */
public final class DeltaDecoder implements AutoCloseable {
  private final ZstdDecompressCtx ctx = new ZstdDecompressCtx();

  public DeltaDecoder() {
    ctx.setMagicless(true);
  }

  /**
   * Decodes payload {@code payload} of segment {@code s} (a delta) into {@code out[0..len)}; {@code source}
   * and the segment name the payload in an error (the message is built only then).
   *
   * @throws CorruptOverlayException if it does not decode to exactly {@code len} bytes
   */
  public void decode(byte[] src, int off, int srcLen, byte[] base, byte[] out, int len, String source, Segment s,
      int payload) throws CorruptOverlayException {
    try {
      ctx.loadDict(base, ZstdDictContentType.RAW_CONTENT);
      int n = ctx.decompressByteArray(out, 0, len, src, off, srcLen);
      if (n != len) {
        throw new CorruptOverlayException(where(source, s, payload), -1,
            "delta decodes to " + n + " bytes, chunk has " + len);
      }
    } catch (ZstdException e) {
      throw new CorruptOverlayException(where(source, s, payload), -1, "delta does not decode: " + e.getMessage());
    }
  }

  private static String where(String source, Segment s, int payload) {
    return source + " " + s + " payload " + payload;
  }

  @Override
  public void close() {
    ctx.close();
  }
}
