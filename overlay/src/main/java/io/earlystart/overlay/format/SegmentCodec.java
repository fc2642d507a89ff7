package io.earlystart.overlay.format;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;

/**
 * The bytes of one segment: an independent zstd frame whose content is
 *
 * <pre>
 * body := payloadCount:varint payloadLength:varint{payloadCount} payloadBytes
 * </pre>
 *
 * A DATA payload is the chunk's bytes; a DELTA payload is a magicless zstd frame of the chunk made
 * with the base chunk at the same offset as raw-content dictionary (made by {@code create.DeltaCodec},
 * decoded by {@code synthesize.SegmentWriter}). Stateless; thread-safe.
 */
public final class SegmentCodec {
  private SegmentCodec() {}

  /** Payloads decoded from one segment: payload {@code i} is {@code body[offset(i) .. offset(i)+length(i))}. */
  public static final class Payloads {
    private final byte[] body;
    private final int[] offsets;
    private final int[] lengths;

    Payloads(byte[] body, int[] offsets, int[] lengths) {
      this.body = body;
      this.offsets = offsets;
      this.lengths = lengths;
    }

    public int count() {
      return offsets.length;
    }

    public byte[] body() {
      return body;
    }

    public int offset(int i) {
      return offsets[i];
    }

    public int length(int i) {
      return lengths[i];
    }
  }

  /** Collects payloads of one segment, then compresses them. Not thread-safe. */
  public static final class Builder {
    private final ByteSink lengths = new ByteSink(1024);
    private final ByteSink bytes;
    private int count;

    public Builder(int expectedBytes) {
      bytes = new ByteSink(expectedBytes + 64);
    }

    public void add(byte[] payload, int off, int len) {
      lengths.varint(len);
      bytes.bytes(payload, off, len);
      count++;
    }

    public int count() {
      return count;
    }

    /** The uncompressed body. */
    public byte[] body() {
      ByteSink body = new ByteSink(5 + lengths.size() + bytes.size());
      body.varint(count).bytes(lengths.array(), 0, lengths.size()).bytes(bytes.array(), 0, bytes.size());
      return body.toByteArray();
    }
  }

  /** Compresses a body with {@code ctx} (its level and parameters already set). */
  public static byte[] compress(ZstdCompressCtx ctx, byte[] body) {
    return ctx.compress(body);
  }

  /**
   * Decompresses and parses a segment whose bytes were already checked against the manifest's
   * SHA-256; still validates everything, since a hash only proves the bytes are the ones the creator
   * wrote.
   */
  public static Payloads decode(ZstdDecompressCtx ctx, byte[] frame, Segment segment, String source)
      throws CorruptOverlayException {
    byte[] body;
    try {
      long declared = Zstd.getFrameContentSize(frame);
      if (declared != segment.rawLength()) {
        throw corrupt(source, segment, "frame declares " + declared + " bytes, manifest " + segment.rawLength());
      }
      body = ctx.decompress(frame, segment.rawLength());
    } catch (ZstdException e) {
      throw corrupt(source, segment, "does not decompress: " + e.getMessage());
    }
    ByteSource in = new ByteSource(body, 0, body.length, source, segment.toString());
    int count = in.intVarint(segment.payloadCount(), segment.payloadCount(), "payload count");
    int[] lengths = new int[count];
    int[] offsets = new int[count];
    long total = 0;
    for (int i = 0; i < count; i++) {
      lengths[i] = in.intVarint(1, Manifest.CHUNK_SIZE * 2L, "payload length");
      total += lengths[i];
    }
    if (total != in.remaining()) {
      throw corrupt(source, segment, "payload lengths add up to " + total + ", body holds " + in.remaining());
    }
    int off = in.position();
    for (int i = 0; i < count; i++) {
      offsets[i] = off;
      off += lengths[i];
    }
    return new Payloads(body, offsets, lengths);
  }

  private static CorruptOverlayException corrupt(String source, Segment s, String reason) {
    return new CorruptOverlayException(source, -1, s + ": " + reason);
  }
}
