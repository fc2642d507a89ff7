package io.earlystart.overlay.format;

import io.earlystart.overlay.io.CorruptDataException;

/**
 * The overlay's bytes are not what the format or the manifest says they must be: a bad magic, a
 * checksum or hash mismatch, a truncated section, an impossible field. The message names the source
 * (file or URL) and, where one applies, the byte offset.
 */
public class CorruptOverlayException extends CorruptDataException {
  private static final long serialVersionUID = 1L;

  /** @param offset byte offset in the overlay where the problem was found, or -1 if none applies */
  public CorruptOverlayException(String source, long offset, String reason) {
    this(source, offset, reason, null);
  }

  public CorruptOverlayException(String source, long offset, String reason, Throwable cause) {
    super("overlay", source, offset, reason, cause);
  }
}
