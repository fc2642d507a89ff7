package io.earlystart.fusefs.image;

import java.io.IOException;

/**
 * A write to the cache directory failed because its file system has no room left: the guest gets
 * {@code ENOSPC} for it, as from a full disk. Thrown by {@link CacheState#write} and the journal, which
 * ask the file system for its free space when a write fails (a Java {@code FileChannel} reports a
 * failed {@code write(2)} as a plain {@link IOException} whose only trace of the errno is the C
 * library's text for it, which depends on the locale).
 */
public final class CacheFullException extends IOException {
  private static final long serialVersionUID = 1L;

  public CacheFullException(String message, IOException cause) {
    super(message, cause);
  }
}
