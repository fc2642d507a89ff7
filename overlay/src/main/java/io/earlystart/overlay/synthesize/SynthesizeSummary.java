package io.earlystart.overlay.synthesize;

/** What {@code synthesize} did. Immutable. */
public record SynthesizeSummary(String overlayId, long overlayBytes, long imageBytes, int segments,
    long elapsedNanos) {

  /** Image bytes produced per second, in MB/s (10^6). */
  public double megabytesPerSecond() {
    return imageBytes / 1e6 / Math.max(1e-9, elapsedNanos / 1e9);
  }
}
