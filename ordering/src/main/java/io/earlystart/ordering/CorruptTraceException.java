package io.earlystart.ordering;

import java.io.IOException;

/**
 * A trace's bytes are not what the format says they must be: not a trace at all (short file, bad
 * magic), a header checksum mismatch, or a malformed record before the end of the file. The message
 * names the file and, where one applies, the byte offset. A torn last record is not corruption (see
 * {@link Trace#read}).
 */
public class CorruptTraceException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final long offset;

  /** @param offset byte offset in the trace where the problem was found, or -1 if none applies */
  public CorruptTraceException(String source, long offset, String reason) {
    this(source, offset, reason, null);
  }

  public CorruptTraceException(String source, long offset, String reason, Throwable cause) {
    super(describe(source, offset, reason), cause);
    this.source = source;
    this.offset = offset;
  }

  private static String describe(String source, long offset, String reason) {
    String where = offset >= 0 ? source + " at offset " + offset : source;
    return "corrupt trace " + where + ": " + reason;
  }

  public String source() {
    return source;
  }

  /** Byte offset of the problem in the trace, or -1. */
  public long offset() {
    return offset;
  }
}
