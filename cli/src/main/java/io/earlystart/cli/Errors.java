package io.earlystart.cli;

import io.earlystart.overlay.base.BaseMismatchException;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.UnsupportedVersionException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/**
 * How the CLI reports an error: one line for a person ({@link #describe}) and an exit code that says
 * what kind of error it was ({@link #exitCode}). Used by {@link Main} and by the commands that report
 * errors of their own. Stateless.
 */
final class Errors {
  /** Exit codes besides 0 (success) and 2 (usage, picocli's). */
  static final int EXIT_ERROR = 1;
  static final int EXIT_CORRUPT = 3;
  static final int EXIT_WRONG_BASE = 4;

  private Errors() {}

  /** One line for a person: what failed and, for files, which one. */
  static String describe(Throwable ex) {
    if (ex instanceof NoSuchFileException e) {
      return (e.getReason() != null ? e.getReason() : "file not found") + ": " + e.getFile();
    }
    if (ex instanceof FileSystemException e && e.getReason() != null) {
      return e.getFile() + ": " + e.getReason();
    }
    if (ex instanceof InterruptedException) {
      return "interrupted";
    }
    String msg = ex.getMessage();
    if (msg == null || msg.isBlank()) {
      msg = ex.getClass().getSimpleName();
    }
    return msg.replace('\n', ' ');
  }

  /** {@link #EXIT_CORRUPT} for a corrupt or unsupported overlay, {@link #EXIT_WRONG_BASE}, else {@link #EXIT_ERROR}. */
  static int exitCode(Throwable ex) {
    if (ex instanceof CorruptOverlayException || ex instanceof UnsupportedVersionException) {
      return EXIT_CORRUPT;
    }
    if (ex instanceof BaseMismatchException) {
      return EXIT_WRONG_BASE;
    }
    return EXIT_ERROR;
  }
}
