package io.earlystart.fusefs;

import java.io.Closeable;
import java.io.IOException;

/** Closes several owners, all of them, keeping the first exception and adding the rest as suppressed. */
final class Closer {
  private Closer() {}

  /** Closes every non-null {@code c} in order; throws the first failure after trying all. */
  static void closeAll(Iterable<? extends Closeable> all) throws IOException {
    IOException first = null;
    for (Closeable c : all) {
      if (c == null) {
        continue;
      }
      try {
        c.close();
      } catch (IOException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
