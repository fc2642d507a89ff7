package io.earlystart.ordering;

import java.io.IOException;

/** The trace was written in a format version this build does not read. */
public class UnsupportedTraceVersionException extends IOException {
  private static final long serialVersionUID = 1L;

  private final int version;

  public UnsupportedTraceVersionException(String source, int version) {
    super(source + ": trace format version " + version + " is not supported; this build reads versions "
        + TraceFormat.MIN_VERSION + " to " + TraceFormat.MAX_VERSION
        + (version > TraceFormat.MAX_VERSION ? " (the trace is newer: update earlystart)" : ""));
    this.version = version;
  }

  /** The version found in the file. */
  public int version() {
    return version;
  }
}
