package io.earlystart.overlay.format;

import io.earlystart.overlay.io.Hex;
import io.earlystart.overlay.io.Sha256;
import java.util.Arrays;

/**
 * The front of an overlay — header and manifest — as every reader gets it first, whatever the source
 * (file, own protocol, HTTP). Immutable and thread-safe.
 */
public record OverlayHead(OverlayHeader header, Manifest manifest) {

  /**
   * Checks and decodes a stored manifest against its header: length, SHA-256 (the overlay id), then
   * the manifest's own validation.
   *
   * @param stored the {@code header.manifestLength()} bytes that follow the header
   */
  public static OverlayHead of(OverlayHeader header, byte[] stored, String source) throws CorruptOverlayException {
    if (stored.length != header.manifestLength()) {
      throw new CorruptOverlayException(source, OverlayHeader.SIZE + stored.length,
          "truncated manifest: " + stored.length + " of " + header.manifestLength() + " bytes");
    }
    if (!Arrays.equals(Sha256.of(stored), header.manifestSha256())) {
      throw new CorruptOverlayException(source, OverlayHeader.SIZE, "manifest SHA-256 mismatch");
    }
    byte[] raw = ManifestCodec.decompress(stored, header.manifestRawLength(), source);
    return new OverlayHead(header, ManifestCodec.decode(raw, source));
  }

  /** The overlay id: SHA-256 of the stored manifest, in hex. */
  public String id() {
    return Hex.of(header.manifestSha256());
  }

  /** Length of the whole overlay file. */
  public long fileLength() {
    return header.dataStart() + manifest.dataLength();
  }
}
