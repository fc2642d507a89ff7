package io.earlystart.overlay.synthesize;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdDictContentType;
import com.github.luben.zstd.ZstdException;
import io.earlystart.overlay.format.ChunkRef;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.PayloadRefs;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.format.SegmentCodec;
import java.io.IOException;

/**
 * Puts one verified segment into the chunks that use its payloads: decompresses and parses the frame
 * ({@link SegmentCodec#decode}), decodes DELTA payloads against the base chunk at the same offset, and
 * writes every chunk to its image's {@link Target}. The one walk that {@code synthesize} (into new image
 * files) and the early-start mount (into its cache files) share. DATA payloads of consecutive chunks lie
 * back to back in the body (stream order follows offsets within a segment), so they go out as one write
 * per run.
 *
 * <p>A DELTA payload (made by {@code create.DeltaCodec}) is a magicless zstd frame without checksum or
 * dictionary id, with the base chunk at the same offset as raw-content dictionary.
 *
 * <p>Not thread-safe: one instance per applying thread. It owns two native zstd contexts and two
 * chunk-sized buffers; {@link #close()} frees the contexts.
 */
public final class SegmentWriter implements AutoCloseable {
  private static final int CS = Manifest.CHUNK_SIZE;

  /** Where one image's chunks go. */
  public interface Target {
    /** Bytes of {@code chunk} (the chunk size; less for an image's last chunk). */
    int chunkLength(long chunk);

    /** False to keep what {@code chunk} holds (a guest's write wins over the overlay's bytes). */
    boolean takes(long chunk);

    /** Reads the base image's bytes of {@code chunk} (the DELTA dictionary) into {@code dst}. */
    void readBase(long chunk, byte[] dst, int len) throws IOException;

    /** Writes {@code len} bytes from {@code src} at the start of {@code chunk}; may span several chunks. */
    void write(long chunk, byte[] src, int off, int len) throws IOException;
  }

  private final ZstdDecompressCtx frames = new ZstdDecompressCtx();
  private final ZstdDecompressCtx deltas = new ZstdDecompressCtx();
  private final byte[] base = new byte[CS];
  private final byte[] chunk = new byte[CS];

  public SegmentWriter() {
    deltas.setMagicless(true);
  }

  /**
   * Decodes {@code frame} (the bytes of {@code s}, already checked against the manifest's SHA-256) and
   * writes its payloads into the chunks {@code refs} names.
   *
   * @param source the overlay's file or URL, for messages
   * @param targets per image (index = {@link ChunkRef#image})
   * @throws CorruptOverlayException when the frame does not decode or a payload does not fit its chunk
   */
  public void write(String source, Segment s, byte[] frame, PayloadRefs refs, Target[] targets) throws IOException {
    SegmentCodec.Payloads payloads = SegmentCodec.decode(frames, frame, s, source);
    byte[] body = payloads.body();
    Target run = null;
    long runChunk = 0;
    int runOff = 0;
    int runLen = 0;
    for (int i = 0; i < payloads.count(); i++) {
      int p = s.firstPayload() + i;
      for (int r = refs.start(p); r < refs.start(p + 1); r++) {
        long ref = refs.ref(r);
        Target target = targets[ChunkRef.image(ref)];
        long c = ChunkRef.chunk(ref);
        if (!target.takes(c)) {
          continue;
        }
        int len = target.chunkLength(c);
        if (refs.isDelta(p)) {
          target.readBase(c, base, len);
          decodeDelta(body, payloads.offset(i), payloads.length(i), len, source, s, p);
          target.write(c, chunk, 0, len);
          continue;
        }
        if (payloads.length(i) != len) {
          throw new CorruptOverlayException(source, -1,
              s + ": payload " + p + " has " + payloads.length(i) + " bytes, its chunk " + len);
        }
        if (target == run && c * CS == runChunk * CS + runLen && payloads.offset(i) == runOff + runLen) {
          runLen += len;
          continue;
        }
        if (run != null) {
          run.write(runChunk, body, runOff, runLen);
        }
        run = target;
        runChunk = c;
        runOff = payloads.offset(i);
        runLen = len;
      }
    }
    if (run != null) {
      run.write(runChunk, body, runOff, runLen);
    }
  }

  /** Decodes the delta at {@code src[off..off+srcLen)} against {@link #base} into {@code chunk[0..len)}. */
  private void decodeDelta(byte[] src, int off, int srcLen, int len, String source, Segment s, int payload)
      throws CorruptOverlayException {
    try {
      deltas.loadDict(base, ZstdDictContentType.RAW_CONTENT);
      int n = deltas.decompressByteArray(chunk, 0, len, src, off, srcLen);
      if (n != len) {
        throw new CorruptOverlayException(source + " " + s + " payload " + payload, -1,
            "delta decodes to " + n + " bytes, chunk has " + len);
      }
    } catch (ZstdException e) {
      throw new CorruptOverlayException(source + " " + s + " payload " + payload, -1,
          "delta does not decode: " + e.getMessage());
    }
  }

  @Override
  public void close() {
    frames.close();
    deltas.close();
  }
}
