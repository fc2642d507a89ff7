package io.earlystart.overlay.format;

import java.io.Closeable;
import java.io.IOException;

/**
 * Where an overlay's bytes come from, for a full synthesis: its verified manifest, then segments and
 * attachments by manifest entry, each verified against its SHA-256 before it is returned.
 * Implementations say whether they are thread-safe; {@link OverlayFile} is.
 */
public interface OverlayReader extends Closeable {
  /** Names the source in messages: a path or URL. */
  String describe();

  OverlayHeader header();

  Manifest manifest();

  byte[] readSegment(Segment s) throws IOException;

  byte[] readAttachment(Attachment a) throws IOException;
}
