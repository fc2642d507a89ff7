package io.earlystart.overlay.format;

import java.io.IOException;

/**
 * The overlay's bytes are not what the format or the manifest says they must be: a bad magic, a
 * checksum or hash mismatch, a truncated section, an impossible field. The message names the source
 * (file or URL) and, where one applies, the byte offset.
 */
public class CorruptOverlayException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final long offset;

  /** @param offset byte offset in the overlay where the problem was found, or -1 if none applies */
  public CorruptOverlayException(String source, long offset, String reason) {
    this(source, offset, reason, null);
  }

  public CorruptOverlayException(String source, long offset, String reason, Throwable cause) {
    super(describe(source, offset, reason), cause);
    this.source = source;
    this.offset = offset;
  }

  private static String describe(String source, long offset, String reason) {
    String where = offset >= 0 ? source + " at offset " + offset : source;
    return "corrupt overlay " + where + ": " + reason;
  }

  public String source() {
    return source;
  }

  /** Byte offset of the problem in the overlay, or -1. */
  public long offset() {
    return offset;
  }
}
