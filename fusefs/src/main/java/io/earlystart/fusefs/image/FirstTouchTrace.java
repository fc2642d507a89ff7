package io.earlystart.fusefs.image;

import io.earlystart.ordering.TraceWriter;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Records the first touch (read or write through the mount) of every 4 KiB chunk into an access trace
 * ({@code ordering/README.md}), for access-ordered overlays. A chunk is recorded once: a lock-free bit
 * per chunk decides which touch is the first.
 *
 * <p>Thread-safe. Touches before {@link #begin} (nothing is mounted then) are not recorded.
 */
public final class FirstTouchTrace implements EarlyImage.Touches, Closeable {
  private final Path file;
  private volatile TraceWriter writer;
  private volatile ChunkState.Bits[] touched;

  public FirstTouchTrace(Path file) {
    this.file = file;
  }

  /** Creates the trace file for {@code m}'s overlay; time 0 is now. */
  public void begin(String overlayId, Manifest m) throws IOException {
    touched = new ChunkState.Bits[] {new ChunkState.Bits(m.chunkCount(Image.DISK)), new ChunkState.Bits(m.chunkCount(Image.MEMORY))};
    writer = TraceWriter.create(file, overlayId);
  }

  @Override
  public void touch(Image image, long chunk) {
    TraceWriter w = writer;
    if (w != null && touched[image.ordinal()].set(chunk)) {
      w.touch(w.nanosSinceStart(), image, (int) chunk);
    }
  }

  /** Adds a named mark (such as "first-response") at the current time. */
  public void mark(String label) {
    TraceWriter w = writer;
    if (w != null) {
      w.mark(w.nanosSinceStart(), label);
    }
  }

  @Override
  public void close() throws IOException {
    TraceWriter w = writer;
    if (w != null) {
      w.close();
    }
  }
}
