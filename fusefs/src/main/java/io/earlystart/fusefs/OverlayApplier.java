package io.earlystart.fusefs;

import com.github.luben.zstd.ZstdDecompressCtx;
import io.earlystart.fetcher.SegmentScheduler;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.PayloadRefs;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.format.SegmentCodec;
import io.earlystart.overlay.synthesize.DeltaDecoder;
import io.earlystart.overlay.synthesize.SegmentWriter;
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
  private final SegmentWriter writer = new SegmentWriter();
  private final SegmentWriter.Target[] targets;

  OverlayApplier(EarlyImage[] images, PayloadRefs refs, CacheState state, String source) {
    this.images = images;
    this.refs = refs;
    this.state = state;
    this.source = source;
    this.targets = new SegmentWriter.Target[] {target(images[0]), target(images[1])};
  }

  @Override
  public void apply(Segment s, byte[] frame) throws IOException {
    SegmentCodec.Payloads payloads = SegmentCodec.decode(ctx, frame, s, source);
    try {
      applyDecoded(s, payloads);
    } catch (CorruptOverlayException | BaseReadException e) {
      throw e;
    } catch (IOException e) {
      // a full or failing cache disk: say where (the scheduler stops fetching, launch and mount exit)
      throw new IOException("cannot write " + s + " into the cache directory " + state.dir() + ": " + e.getMessage(), e);
    }
  }

  private void applyDecoded(Segment s, SegmentCodec.Payloads payloads) throws IOException {
    images[0].mutate.lock();
    images[1].mutate.lock();
    try {
      writer.write(source, s, payloads, refs, targets, delta);
      state.recordApplied(s.index());
      markPresent(s);
    } finally {
      images[1].mutate.unlock();
      images[0].mutate.unlock();
    }
  }

  /** An image's cache file as the writer's target: chunks the guest wrote keep the guest's bytes. */
  private static SegmentWriter.Target target(EarlyImage image) {
    return new SegmentWriter.Target() {
      @Override
      public int chunkLength(long chunk) {
        return image.chunkLength(chunk);
      }

      @Override
      public boolean takes(long chunk) {
        return !image.written.get(chunk);
      }

      @Override
      public void readBase(long chunk, byte[] dst, int len) throws IOException {
        try {
          image.readSameBase(chunk * EarlyImage.CS, dst, len);
        } catch (IOException e) {
          throw new BaseReadException(image.image.baseName + ": cannot read chunk " + chunk + ": " + e.getMessage(), e);
        }
      }

      @Override
      public void write(long chunk, byte[] src, int off, int len) throws IOException {
        image.writeArrived(chunk, src, off, len);
      }
    };
  }

  /** A DELTA's base chunk could not be read: the base image failed, not the cache directory. */
  private static final class BaseReadException extends IOException {
    BaseReadException(String message, IOException cause) {
      super(message, cause);
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
