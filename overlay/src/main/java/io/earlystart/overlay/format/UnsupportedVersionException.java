package io.earlystart.overlay.format;

import java.io.IOException;

/** The overlay was written in a format version this build does not read. */
public class UnsupportedVersionException extends IOException {
  private static final long serialVersionUID = 1L;

  public UnsupportedVersionException(String source, int version) {
    super(source + ": overlay format version " + version + " is not supported; this build reads versions "
        + OverlayHeader.MIN_VERSION + " to " + OverlayHeader.MAX_VERSION
        + (version > OverlayHeader.MAX_VERSION ? " (the overlay is newer: update earlystart)" : ""));
  }
}
