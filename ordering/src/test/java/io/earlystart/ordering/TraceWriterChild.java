package io.earlystart.ordering;

import io.earlystart.overlay.format.Image;
import java.nio.file.Path;

/**
 * Main class of the JVM that {@link TraceKillTest} kills: record {@code i} touches chunk {@code i}
 * of disk (even) or memory (odd) at time {@code i}; a flush every 997 records and a mark {@code
 * "m<i>"} at time {@code i} every 10,000, forever.
 */
public final class TraceWriterChild {
  private TraceWriterChild() {}

  public static void main(String[] args) throws Exception {
    TraceWriter w = TraceWriter.create(Path.of(args[0]), TraceRoundTripTest.ID);
    for (int i = 0; ; i++) {
      w.touch(i, i % 2 == 0 ? Image.DISK : Image.MEMORY, i);
      if (i % 997 == 0) {
        w.flush();
      }
      if (i % 10_000 == 0) {
        w.mark(i, "m" + i);
      }
    }
  }
}
