package io.earlystart.cli;

import io.earlystart.ordering.Trace;
import io.earlystart.ordering.TraceOrder;
import io.earlystart.overlay.create.AccessOrder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The {@code --trace} options of create and reorder as an {@link AccessOrder}. */
final class Traces {
  private Traces() {}

  /** Offset order for no traces, else their merged first touches. */
  static AccessOrder order(List<Path> files) throws IOException {
    if (files.isEmpty()) {
      return AccessOrder.OFFSET;
    }
    List<Trace> traces = new ArrayList<>();
    for (Path f : files) {
      traces.add(Trace.read(f));
    }
    return TraceOrder.of(traces);
  }
}
