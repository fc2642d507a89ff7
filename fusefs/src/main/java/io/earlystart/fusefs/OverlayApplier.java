package io.earlystart.fusefs;

import com.github.luben.zstd.ZstdDecompressCtx;
import io.earlystart.fetcher.SegmentScheduler;
import io.earlystart.overlay.CorruptOverlayException;
import io.earlystart.overlay.DeltaDecoder;
import io.earlystart.overlay.PayloadRefs;
import io.earlystart.overlay.Segment;
import io.earlystart.overlay.SegmentCodec;
import java.io.IOException;

/**
 * Puts a verified segment's chunks into the cache files of both images: decompresses it, decodes
 * DELTAs against the base, skips chunks the guest has written (the guest wins), journals the segment
 * as applied, and only then marks its chunks present, so a reader that sees the bit finds the bytes.
 *
 * <p>Runs on the scheduler's one applier thread; not thread-safe. Holds both images' {@code mutate}
 * locks (disk, then memory) while it writes, so a guest's first write to a chunk is ordered with it.
 */
final class OverlayApplier implements SegmentScheduler.Applier, java.io.Closeable {
  private final EarlyImage[] images;
  private final PayloadRefs refs;
  private final CacheState state;
  private final String source;
  private final ZstdDecompressCtx ctx = new ZstdDecompressCtx();
  private final DeltaDecoder delta = new DeltaDecoder();
  private final byte[] base = new byte[EarlyImage.CS];
  private final byte[] chunk = new byte[EarlyImage.CS];

  OverlayApplier(EarlyImage[] images, PayloadRefs refs, CacheState state, String source) {
    this.images = images;
    this.refs = refs;
    this.state = state;
    this.source = source;
  }

  @Override
  public void apply(Segment s, byte[] frame) throws IOException {
    SegmentCodec.Payloads payloads = SegmentCodec.decode(ctx, frame, s, source);
    try {
      applyDecoded(s, payloads);
    } catch (CorruptOverlayException e) {
      throw e;
    } catch (IOException e) {
      // a full or failing cache disk: say where (the scheduler stops fetching, launch and mount exit)
      throw new IOException("cannot write " + s + " into the cache directory " + state.dir() + ": " + e.getMessage(), e);
    }
  }

  private void applyDecoded(Segment s, SegmentCodec.Payloads payloads) throws IOException {
    byte[] body = payloads.body();
    images[0].mutate.lock();
    images[1].mutate.lock();
    try {
      // DATA payloads of consecutive chunks lie back to back in the body (stream order follows offsets
      // within a segment): one write per run, as synthesize does, broken by chunks the guest wrote
      EarlyImage run = null;
      long runChunk = 0;
      int runOff = 0;
      int runLen = 0;
      for (int i = 0; i < payloads.count(); i++) {
        int p = s.firstPayload() + i;
        for (int r = refs.start(p); r < refs.start(p + 1); r++) {
          long ref = refs.ref(r);
          EarlyImage target = images[(int) (ref >>> 32)];
          long c = ref & 0xFFFFFFFFL;
          if (target.written.get(c)) {
            continue; // the guest's bytes win
          }
          int len = target.chunkLength(c);
          if (refs.isDelta(p)) {
            target.readSameBase(c * EarlyImage.CS, base, len);
            delta.decode(body, payloads.offset(i), payloads.length(i), base, chunk, len,
                source + " " + s + " payload " + p);
            target.writeArrived(c, chunk, 0, len);
            continue;
          }
          if (payloads.length(i) != len) {
            throw new CorruptOverlayException(source, -1,
                s + ": payload " + p + " has " + payloads.length(i) + " bytes, its chunk " + len);
          }
          if (target == run && c * EarlyImage.CS == runChunk * EarlyImage.CS + runLen
              && payloads.offset(i) == runOff + runLen) {
            runLen += len;
            continue;
          }
          if (run != null) {
            run.writeArrived(runChunk, body, runOff, runLen);
          }
          run = target;
          runChunk = c;
          runOff = payloads.offset(i);
          runLen = len;
        }
      }
      if (run != null) {
        run.writeArrived(runChunk, body, runOff, runLen);
      }
      state.recordApplied(s.index());
      markPresent(s);
    } finally {
      images[1].mutate.unlock();
      images[0].mutate.unlock();
    }
  }

  /** Marks the chunks of {@code s} present (after they were written and journaled). */
  void markPresent(Segment s) {
    for (int p = s.firstPayload(); p < s.firstPayload() + s.payloadCount(); p++) {
      for (int r = refs.start(p); r < refs.start(p + 1); r++) {
        long ref = refs.ref(r);
        images[(int) (ref >>> 32)].present.set(ref & 0xFFFFFFFFL);
      }
    }
  }

  @Override
  public void close() {
    ctx.close();
    delta.close();
  }
}
