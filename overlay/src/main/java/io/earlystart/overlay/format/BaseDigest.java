package io.earlystart.overlay.format;

/**
 * What the manifest's {@code baseSha256} field holds, by format version (overlay/FORMAT.md, "Base
 * digest"). The field's layout never changed, its meaning did: a reader must ask the header's version
 * which digest to compute before it compares a base. Immutable.
 */
public enum BaseDigest {
  /** Format version 1: the SHA-256 of every byte of the base image, holes included. */
  FLAT_SHA256("sha256"),
  /**
   * Format version 2 on: the block-hash digest, the SHA-256 of the image's size and of the SHA-256 of
   * each of its 1 MiB blocks, so that a hole costs a constant instead of a hash of its zeros.
   */
  BLOCK_HASH("block-hash digest");

  /** How messages and {@code inspect} name the digest. */
  public final String label;

  BaseDigest(String label) {
    this.label = label;
  }

  /** The digest an overlay of format version {@code version} names its bases by. */
  public static BaseDigest of(int version) {
    return version < OverlayHeader.BLOCK_HASH_VERSION ? FLAT_SHA256 : BLOCK_HASH;
  }
}
