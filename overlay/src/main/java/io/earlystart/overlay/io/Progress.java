package io.earlystart.overlay.io;

/**
 * Receives progress of a long operation. Called from one thread at a time, at most a few times a
 * second per phase; implementations need not be thread-safe.
 */
@FunctionalInterface
public interface Progress {
  Progress NONE = (phase, done, total) -> {};

  /** {@code done} of {@code total} units (bytes unless the phase says otherwise) of {@code phase}. */
  void update(String phase, long done, long total);
}
