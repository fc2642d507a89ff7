package io.earlystart.overlay.synthesize;

import io.earlystart.overlay.format.ChunkRef;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.PayloadRefs;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.format.SegmentCodec;
import java.io.IOException;

/**
 * Writes one decoded segment into the chunks that use its payloads: the one walk that {@code synthesize}
 * (into new image files) and the early-start applier (into the mount's cache files) share. DATA payloads
 * of consecutive chunks lie back to back in the body (stream order follows offsets within a segment), so
 * they go out as one write per run; DELTA payloads are decoded against the base chunk at the same offset.
 *
 * <p>Not thread-safe: one instance per applying thread (it owns two chunk-sized scratch buffers).
 */
public final class SegmentWriter {
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

  private final byte[] base = new byte[CS];
  private final byte[] chunk = new byte[CS];

  /**
   * @param targets per image (index = the image in {@link PayloadRefs#ref})
   * @throws CorruptOverlayException when a payload does not fit its chunk
   */
  public void write(String source, Segment s, SegmentCodec.Payloads payloads, PayloadRefs refs, Target[] targets,
      DeltaDecoder delta) throws IOException {
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
          delta.decode(body, payloads.offset(i), payloads.length(i), base, chunk, len, source, s, p);
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
}
