package io.earlystart.overlay.io;

import java.io.Closeable;
import java.io.IOException;
import java.util.Arrays;

/**
 * Closes several owners, all of them, keeping the first failure and adding the rest as suppressed
 * (Lucene's {@code IOUtils.close}). A {@link RuntimeException} or {@link Error} from one close does not
 * skip the others either: it is kept like an {@link IOException} and rethrown as it is when it came
 * first. Stateless.
 */
public final class Closer {
  private Closer() {}

  /** Closes every non-null {@code c} in order; throws the first failure after trying all. */
  public static void closeAll(Iterable<? extends Closeable> all) throws IOException {
    Throwable first = null;
    for (Closeable c : all) {
      if (c == null) {
        continue;
      }
      try {
        c.close();
      } catch (IOException | RuntimeException | Error e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first instanceof IOException io) {
      throw io;
    }
    if (first instanceof RuntimeException r) {
      throw r;
    }
    if (first instanceof Error err) {
      throw err;
    }
  }

  /**
   * Closes every non-null {@code c} in order, after an earlier step of the caller may have failed
   * with {@code primary} (or null): throws {@code primary} with the close failures suppressed, else
   * the first close failure.
   */
  public static void closeAll(IOException primary, Closeable... all) throws IOException {
    try {
      closeAll(Arrays.asList(all));
    } catch (IOException | RuntimeException | Error e) {
      if (primary == null) {
        throw e;
      }
      primary.addSuppressed(e);
    }
    if (primary != null) {
      throw primary;
    }
  }
}
