package io.earlystart.fusefs.image;

import java.io.IOException;

/**
 * A small file whose content is made anew at each open (the mount's {@code status}). It is opened
 * with {@code direct_io}, so every open shows the content of that moment, not a cached page.
 * Implementations must be thread-safe.
 */
@FunctionalInterface
public interface DynamicFile {
  /** The content as of now. */
  byte[] snapshot() throws IOException;
}
