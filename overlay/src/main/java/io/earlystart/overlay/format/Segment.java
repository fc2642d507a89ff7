package io.earlystart.overlay.format;

import java.util.Arrays;

/**
 * One independent zstd frame of the data area holding payloads {@code [firstPayload,
 * firstPayload + payloadCount)}. {@code offset} is relative to the start of the data area.
 * Immutable.
 */
public record Segment(int index, long offset, int length, int rawLength, int firstPayload, int payloadCount,
    byte[] sha256) {

  /** Absolute offset in the overlay file. */
  public long fileOffset(OverlayHeader header) {
    return header.dataStart() + offset;
  }

  public long end() {
    return offset + length;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Segment s && s.index == index && s.offset == offset && s.length == length
        && s.rawLength == rawLength && s.firstPayload == firstPayload && s.payloadCount == payloadCount
        && Arrays.equals(s.sha256, sha256);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(sha256);
  }

  @Override
  public String toString() {
    return "segment " + index + " (" + length + " bytes, payloads " + firstPayload + "+" + payloadCount + ")";
  }
}
