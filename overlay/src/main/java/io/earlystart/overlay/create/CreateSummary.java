package io.earlystart.overlay.create;

import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.Image;

/**
 * What {@code create} made. {@code chunks[image][kind]} counts the changed chunks of each image by
 * {@link ChunkKind#ordinal()}; {@code dedup} is {@link CreateOptions#dedup()} (off: no BASE_* chunks
 * and {@code duplicateChunks} is 0). Immutable.
 */
public record CreateSummary(String overlayId, long[][] chunks, int payloads, boolean dedup, long duplicateChunks,
    int segments, long payloadBytes, long overlayBytes, long inputBytes, long manifestBytes, long elapsedNanos,
    boolean baseIndexCached) {

  public long count(Image image, ChunkKind kind) {
    return chunks[image.ordinal()][kind.ordinal()];
  }

  public long count(ChunkKind kind) {
    long n = 0;
    for (long[] perImage : chunks) {
      n += perImage[kind.ordinal()];
    }
    return n;
  }

  /** Customised image bytes read per second, in MB/s (10^6). */
  public double megabytesPerSecond() {
    return inputBytes / 1e6 / Math.max(1e-9, elapsedNanos / 1e9);
  }
}
