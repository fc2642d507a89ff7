package io.earlystart.overlay.format;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Encodes a {@link Manifest} to the bytes of FORMAT.md and decodes untrusted bytes back, validating
 * every field (ranges, ordering, contiguity, payload references) in the manner of RoaringBitmap's
 * {@code validate()}. Stateless and thread-safe.
 *
 * <pre>
 * manifest   := chunkSize:varint image{2} table{2} payloadCount:varint
 *               attachmentCount:varint attachment* segmentCount:varint segment*
 * image      := size:varint baseSize:varint baseSha256:byte[32]        (disk, then memory)
 *               baseSha256 is the base's digest, whose meaning the header's version gives ({@link BaseDigest})
 * table      := entryCount:varint entry*                                (disk, then memory)
 * entry      := gap:varint kind:u8 [arg]      gap = chunk - previousChunk - 1 (first: chunk)
 *   arg      := BASE_DISK|BASE_MEM: baseChunk:varint
 *             | DATA|DELTA: zigzag(payload - previousPayload):varint   (previousPayload starts at -1)
 * attachment := name:string offset:varint length:varint rawLength:varint sha256:byte[32]
 * segment    := length:varint rawLength:varint payloadCount:varint sha256:byte[32]
 *               (offsets follow the attachments back to back; first payloads are consecutive)
 * </pre>
 */
public final class ManifestCodec {
  /** zstd level of the stored manifest: it is small, read first and worth squeezing. */
  static final int MANIFEST_LEVEL = 12;
  static final int MAX_SEGMENT_BYTES = 256 << 20;
  public static final int MAX_ATTACHMENT_BYTES = 1 << 30;
  static final int MAX_ATTACHMENTS = 64;
  private static final long MAX_IMAGE_SIZE = (long) Integer.MAX_VALUE * Manifest.CHUNK_SIZE;

  private ManifestCodec() {}

  public static byte[] encode(Manifest m) {
    int entries = 0;
    for (ChunkTable t : m.tables()) {
      entries += t.size();
    }
    ByteSink out = new ByteSink(64 + entries * 4 + m.segments().size() * 48);
    out.varint(m.chunkSize());
    for (Image image : Image.values()) {
      BaseRef base = m.base(image);
      out.varint(m.imageSize(image)).varint(base.size()).bytes(base.digest());
    }
    for (Image image : Image.values()) {
      ChunkTable t = m.table(image);
      out.varint(t.size());
      long prevChunk = -1;
      long prevPayload = -1;
      for (int i = 0; i < t.size(); i++) {
        ChunkKind kind = t.kind(i);
        out.varint(t.chunk(i) - prevChunk - 1).u8(kind.code);
        prevChunk = t.chunk(i);
        if (kind == ChunkKind.BASE_DISK || kind == ChunkKind.BASE_MEM) {
          out.varint(t.arg(i));
        } else if (kind.hasPayload()) {
          out.zigzag(t.arg(i) - prevPayload);
          prevPayload = t.arg(i);
        }
      }
    }
    out.varint(m.payloadCount());
    out.varint(m.attachments().size());
    for (Attachment a : m.attachments()) {
      out.string(a.name()).varint(a.offset()).varint(a.length()).varint(a.rawLength()).bytes(a.sha256());
    }
    out.varint(m.segments().size());
    for (Segment s : m.segments()) {
      out.varint(s.length()).varint(s.rawLength()).varint(s.payloadCount()).bytes(s.sha256());
    }
    return out.toByteArray();
  }

  /** The manifest as stored in the file: one zstd frame of {@link #encode}. */
  public static byte[] compress(byte[] raw) {
    return Zstd.compress(raw, MANIFEST_LEVEL);
  }

  public static byte[] decompress(byte[] stored, int rawLength, String source) throws CorruptOverlayException {
    try {
      byte[] raw = Zstd.decompress(stored, rawLength);
      if (raw.length != rawLength) {
        throw new CorruptOverlayException(source, OverlayHeader.SIZE,
            "manifest decompresses to " + raw.length + " bytes, header says " + rawLength);
      }
      return raw;
    } catch (ZstdException e) {
      throw new CorruptOverlayException(source, OverlayHeader.SIZE, "manifest does not decompress: " + e.getMessage());
    }
  }

  public static Manifest decode(byte[] raw, String source) throws CorruptOverlayException {
    ByteSource in = new ByteSource(raw, 0, raw.length, source, "manifest");
    int chunkSize = in.intVarint(Manifest.CHUNK_SIZE, Manifest.CHUNK_SIZE, "chunk size");
    Image[] images = Image.values();
    BaseRef[] bases = new BaseRef[images.length];
    long[] sizes = new long[images.length];
    ChunkTable[] tables = new ChunkTable[images.length];
    long payloadRefs = 0;
    for (Image image : images) {
      int i = image.ordinal();
      sizes[i] = in.varint(0, MAX_IMAGE_SIZE, image.fileName + " size");
      bases[i] = new BaseRef(in.varint(0, MAX_IMAGE_SIZE, image.baseName + " size"), in.bytes(32));
    }
    for (Image image : images) {
      int i = image.ordinal();
      tables[i] = decodeTable(in, image, sizes[i], bases, chunkSize);
      for (int e = 0; e < tables[i].size(); e++) {
        payloadRefs += tables[i].kind(e).hasPayload() ? 1 : 0;
      }
    }
    int payloadCount = in.intVarint(0, payloadRefs, "payload count");
    checkPayloadRefs(in, tables, payloadCount);

    int attachmentCount = in.intVarint(0, MAX_ATTACHMENTS, "attachment count");
    List<Attachment> attachments = new ArrayList<>(attachmentCount);
    Set<String> names = new HashSet<>();
    long offset = 0;
    for (int a = 0; a < attachmentCount; a++) {
      String name = in.string(255);
      if (name.isEmpty() || !names.add(name)) {
        throw in.corrupt("attachment name '" + name + "' empty or repeated");
      }
      in.varint(offset, offset, "attachment offset");
      int length = in.intVarint(1, MAX_ATTACHMENT_BYTES, "attachment length");
      int rawLength = in.intVarint(0, MAX_ATTACHMENT_BYTES, "attachment raw length");
      attachments.add(new Attachment(name, offset, length, rawLength, in.bytes(32)));
      offset += length;
    }
    int segmentCount = in.intVarint(payloadCount == 0 ? 0 : 1, payloadCount, "segment count");
    List<Segment> segments = new ArrayList<>(segmentCount);
    int firstPayload = 0;
    for (int s = 0; s < segmentCount; s++) {
      int length = in.intVarint(1, MAX_SEGMENT_BYTES, "segment length");
      int rawLength = in.intVarint(1, MAX_SEGMENT_BYTES, "segment raw length");
      int count = in.intVarint(1, payloadCount - firstPayload, "segment payload count");
      segments.add(new Segment(s, offset, length, rawLength, firstPayload, count, in.bytes(32)));
      offset += length;
      firstPayload += count;
    }
    if (firstPayload != payloadCount) {
      throw in.corrupt("segments hold " + firstPayload + " payloads, manifest has " + payloadCount);
    }
    if (in.remaining() != 0) {
      throw in.corrupt(in.remaining() + " unexpected bytes after the segment table");
    }
    return new Manifest(chunkSize, bases, sizes, tables, payloadCount, attachments, segments);
  }

  private static ChunkTable decodeTable(ByteSource in, Image image, long size, BaseRef[] bases, int chunkSize)
      throws CorruptOverlayException {
    long chunkCount = Manifest.chunkCount(size, chunkSize);
    int entries = in.intVarint(0, chunkCount, image.fileName + " entry count");
    ChunkTable.Builder b = new ChunkTable.Builder();
    long chunk = -1;
    long prevPayload = -1;
    for (int e = 0; e < entries; e++) {
      chunk += in.varint(0, chunkCount, "chunk gap") + 1;
      if (chunk >= chunkCount) {
        throw in.corrupt(image.fileName + " chunk " + chunk + " beyond the image's " + chunkCount + " chunks");
      }
      int code = in.u8();
      ChunkKind kind = ChunkKind.ofCode(code);
      if (kind == null) {
        throw in.corrupt("unknown chunk kind " + code);
      }
      int arg = 0;
      if (kind == ChunkKind.BASE_DISK || kind == ChunkKind.BASE_MEM) {
        long baseChunks = Manifest.chunkCount(bases[kind.baseImage().ordinal()].size(), chunkSize);
        arg = in.intVarint(0, baseChunks - 1, kind.baseImage().baseName + " chunk");
      } else if (kind.hasPayload()) {
        long payload = prevPayload + in.zigzag();
        if (payload < 0 || payload > Integer.MAX_VALUE) {
          throw in.corrupt("payload id " + payload + " out of range");
        }
        prevPayload = payload;
        arg = (int) payload;
      }
      b.add((int) chunk, kind, arg);
    }
    return b.build();
  }

  /** Every payload referenced at least once; DELTA payloads exactly once and by DELTA only. */
  private static void checkPayloadRefs(ByteSource in, ChunkTable[] tables, int payloadCount)
      throws CorruptOverlayException {
    byte[] seen = new byte[payloadCount]; // 0 unseen, else kind code + 1
    for (ChunkTable t : tables) {
      for (int e = 0; e < t.size(); e++) {
        ChunkKind kind = t.kind(e);
        if (!kind.hasPayload()) {
          continue;
        }
        int p = t.arg(e);
        if (p >= payloadCount) {
          throw in.corrupt("chunk " + t.chunk(e) + " refers to payload " + p + " of " + payloadCount);
        }
        if (seen[p] != 0 && (kind == ChunkKind.DELTA || seen[p] != kind.code + 1)) {
          throw in.corrupt("payload " + p + " shared by a DELTA chunk");
        }
        seen[p] = (byte) (kind.code + 1);
      }
    }
    for (int p = 0; p < payloadCount; p++) {
      if (seen[p] == 0) {
        throw in.corrupt("payload " + p + " is not used by any chunk");
      }
    }
  }
}
