package io.earlystart.overlay.format;

import java.util.List;

/**
 * Everything about an overlay except the payload bytes: which bases it needs, the image sizes, the
 * chunk table of each image, the segments and the attachments. Immutable and thread-safe; encode and
 * decode with {@link ManifestCodec}.
 *
 * <p>Indexed by {@link Image#ordinal()}: {@code bases[DISK]} is the base disk, {@code tables[MEMORY]}
 * the memory's chunk table, and so on.
 */
public record Manifest(int chunkSize, BaseRef[] bases, long[] imageSizes, ChunkTable[] tables, int payloadCount,
    List<Attachment> attachments, List<Segment> segments) {

  public static final int CHUNK_SIZE = 4096;

  public Manifest {
    attachments = List.copyOf(attachments);
    segments = List.copyOf(segments);
  }

  public BaseRef base(Image image) {
    return bases[image.ordinal()];
  }

  public long imageSize(Image image) {
    return imageSizes[image.ordinal()];
  }

  public ChunkTable table(Image image) {
    return tables[image.ordinal()];
  }

  /** Number of chunks in {@code image}, the last one possibly shorter than the chunk size. */
  public long chunkCount(Image image) {
    return chunkCount(imageSize(image), chunkSize);
  }

  public static long chunkCount(long size, int chunkSize) {
    return (size + chunkSize - 1) / chunkSize;
  }

  /** Length of chunk {@code chunk} of an image of {@code size} bytes. */
  public static int chunkLength(long size, int chunkSize, long chunk) {
    return (int) Math.min(chunkSize, size - chunk * chunkSize);
  }

  /** The attachment called {@code name}, or null. */
  public Attachment attachment(String name) {
    for (Attachment a : attachments) {
      if (a.name().equals(name)) {
        return a;
      }
    }
    return null;
  }

  /** Bytes of the data area: attachments then segments. */
  public long dataLength() {
    long end = 0;
    for (Attachment a : attachments) {
      end = Math.max(end, a.end());
    }
    for (Segment s : segments) {
      end = Math.max(end, s.end());
    }
    return end;
  }

  /** The segment holding {@code payload}, by binary search. */
  public Segment segmentOf(int payload) {
    int lo = 0;
    int hi = segments.size() - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      Segment s = segments.get(mid);
      if (payload < s.firstPayload()) {
        hi = mid - 1;
      } else if (payload >= s.firstPayload() + s.payloadCount()) {
        lo = mid + 1;
      } else {
        return s;
      }
    }
    throw new IllegalArgumentException("no segment holds payload " + payload);
  }
}
