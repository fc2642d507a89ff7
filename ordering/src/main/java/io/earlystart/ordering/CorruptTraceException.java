package io.earlystart.ordering;

import io.earlystart.overlay.io.CorruptDataException;

/**
 * A trace's bytes are not what the format says they must be: not a trace at all (short file, bad
 * magic), a header checksum mismatch, or a malformed record before the end of the file. The message
 * names the file and, where one applies, the byte offset. A torn last record is not corruption (see
 * {@link Trace#read}).
 */
public class CorruptTraceException extends CorruptDataException {
  private static final long serialVersionUID = 1L;

  /** @param offset byte offset in the trace where the problem was found, or -1 if none applies */
  public CorruptTraceException(String source, long offset, String reason) {
    this(source, offset, reason, null);
  }

  public CorruptTraceException(String source, long offset, String reason, Throwable cause) {
    super("trace", source, offset, reason, cause);
  }
}
