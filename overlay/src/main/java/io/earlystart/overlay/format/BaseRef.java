package io.earlystart.overlay.format;

import io.earlystart.overlay.io.Hex;
import java.util.Arrays;

/** The identity of a base image an overlay was made against: its size and SHA-256. Immutable. */
public record BaseRef(long size, byte[] sha256) {

  @Override
  public boolean equals(Object o) {
    return o instanceof BaseRef b && b.size == size && Arrays.equals(b.sha256, sha256);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(sha256);
  }

  @Override
  public String toString() {
    return size + " bytes, sha256 " + Hex.of(sha256);
  }
}
