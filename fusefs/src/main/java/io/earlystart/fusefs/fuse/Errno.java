package io.earlystart.fusefs.fuse;

import io.earlystart.fusefs.image.CacheFullException;
import io.earlystart.fusefs.image.ImageBoundsException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.SocketTimeoutException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import ru.serce.jnrfuse.ErrorCodes;

/**
 * The one mapping from an exception thrown below a FUSE callback to the negative errno the callback
 * returns.
 *
 * <p>Why it exists: jffi turns an exception that escapes a callback into the return value 0, so a
 * failing {@code read} would look like end of file and a failing {@code getattr} like success.
 * Every callback therefore catches {@link Throwable} and returns {@code Errno.of(t)}.
 *
 * <p>Stateless and thread-safe.
 */
public final class Errno {

  private Errno() {}

  /**
   * Maps {@code t} to a negative errno:
   *
   * <ul>
   *   <li>{@link TimeoutException}, {@link SocketTimeoutException}: {@code -EIO} (a deadline
   *       passed; the reader gets an error, not a hang);
   *   <li>{@link InterruptedException}, {@link InterruptedIOException},
   *       {@link ClosedByInterruptException}: {@code -EINTR}, and the current thread's interrupt
   *       flag is set again;
   *   <li>{@link NoSuchFileException}: {@code -ENOENT};
   *   <li>{@link ImageBoundsException} (a write outside an image) and {@link CacheFullException}
   *       (the cache directory's file system is full): {@code -ENOSPC}, by type; the cache writes
   *       find out that the disk is full, no message text is read here;
   *   <li>anything else, corruption ({@code CorruptOverlayException extends IOException}) and
   *       {@link Error}s included: {@code -EIO}.
   * </ul>
   *
   * {@link CompletionException}, {@link ExecutionException} and {@link UncheckedIOException} are
   * unwrapped first, so a failed future maps like its cause.
   */
  public static int of(Throwable t) {
    Throwable c = unwrap(t);
    if (c instanceof TimeoutException || c instanceof SocketTimeoutException) {
      return -ErrorCodes.EIO();
    }
    if (c instanceof InterruptedException
        || c instanceof InterruptedIOException
        || c instanceof ClosedByInterruptException) {
      Thread.currentThread().interrupt();
      return -ErrorCodes.EINTR();
    }
    if (c instanceof NoSuchFileException) {
      return -ErrorCodes.ENOENT();
    }
    if (c instanceof ImageBoundsException || c instanceof CacheFullException) {
      return -ErrorCodes.ENOSPC();
    }
    return -ErrorCodes.EIO();
  }

  private static Throwable unwrap(Throwable t) {
    Throwable c = t;
    for (int depth = 0; depth < 8; depth++) {
      boolean wrapper = c instanceof CompletionException
          || c instanceof ExecutionException
          || c instanceof UncheckedIOException;
      if (!wrapper || c.getCause() == null) {
        break;
      }
      c = c.getCause();
    }
    return c;
  }
}
