package io.earlystart.overlay.format;

import io.earlystart.overlay.io.Hex;
import java.util.Arrays;

/**
 * The identity of a base image an overlay was made against: its size and its digest, the manifest's
 * {@code baseSha256}. Which digest that is depends on the overlay's format version ({@link
 * BaseDigest}). Immutable.
 */
public record BaseRef(long size, byte[] digest) {

  @Override
  public boolean equals(Object o) {
    return o instanceof BaseRef b && b.size == size && Arrays.equals(b.digest, digest);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(digest);
  }

  @Override
  public String toString() {
    return size + " bytes, digest " + Hex.of(digest);
  }
}
