package io.earlystart.overlay.io;

import java.io.IOException;

/**
 * Bytes that are not what their format says they must be: a bad magic, a checksum or hash mismatch, a
 * truncated section, an impossible field. The message says what kind of data it is, names the source
 * (file or URL) and, where one applies, the byte offset: {@code corrupt KIND SOURCE at offset N: REASON}.
 * Subclasses name the kind (an overlay, a trace).
 */
public class CorruptDataException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final long offset;

  /**
   * @param kind what the data is, for the message ("overlay", "trace")
   * @param offset byte offset in the data where the problem was found, or -1 if none applies
   */
  protected CorruptDataException(String kind, String source, long offset, String reason, Throwable cause) {
    super("corrupt " + kind + " " + (offset >= 0 ? source + " at offset " + offset : source) + ": " + reason, cause);
    this.source = source;
    this.offset = offset;
  }

  /** The file or URL the bytes came from. */
  public String source() {
    return source;
  }

  /** Byte offset of the problem in the data, or -1. */
  public long offset() {
    return offset;
  }
}
