package io.earlystart.fetcher.client;

import io.earlystart.fetcher.SegmentSource;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.OverlayHead;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingDeque;

/**
 * A {@link SegmentSource} for an overlay file on a local (or mounted network) file system. Each
 * {@link Session} opens the file with {@link OverlayFile#open} (whose errors pass through unchanged)
 * and runs one daemon thread that serves demands first, then the stream in order, with positional
 * reads. Segments reach the sink as the file holds them, unverified (as the contract allows): the
 * scheduler verifies them and, since a file sends the same bad bytes again, gives up with a
 * {@code CorruptOverlayException} naming the segment after its attempts. A read error is reported
 * once through {@link SegmentSource.Sink#failed}.
 *
 * <p>Thread-safe. Each session owns its {@link OverlayFile} and closes it; closing the source closes
 * the sessions still open.
 */
public final class FileSource implements SegmentSource {
  private static final long JOIN_MILLIS = 2_000;

  private final Path path;
  private final Set<FileSession> sessions = ConcurrentHashMap.newKeySet();

  public FileSource(Path path) {
    this.path = path;
  }

  @Override
  public String describe() {
    return path.toString();
  }

  /** Opens the file and verifies its head; {@code timeout} does not apply to a local file. */
  @Override
  public Session open(SegmentSource.Sink sink, Duration timeout) throws IOException {
    OverlayFile file = OverlayFile.open(path);
    FileSession s = new FileSession(file, sink);
    sessions.add(s);
    s.worker.start();
    return s;
  }

  @Override
  public void close() {
    for (FileSession s : sessions) {
      s.close();
    }
  }

  @Override
  public String toString() {
    return "FileSource[" + path + "]";
  }

  /**
   * One reader thread over one open file. The queue holds stream entries {@code i} at the back and
   * demand entries {@code -1 - i} at the front; the thread takes from the front. A stream entry for a
   * segment already delivered is skipped before it is read; the {@link GuardedSink} keeps the sink
   * quiet once the session is closed or dead.
   */
  private final class FileSession implements Session {
    private final OverlayFile file;
    private final GuardedSink sink;
    private final OverlayHead head;
    private final int segmentCount;
    private final LinkedBlockingDeque<Integer> queue = new LinkedBlockingDeque<>();
    private final Thread worker;

    FileSession(OverlayFile file, SegmentSource.Sink sink) {
      this.file = file;
      this.head = new OverlayHead(file.header(), file.manifest());
      this.segmentCount = head.manifest().segments().size();
      this.sink = new GuardedSink(sink, segmentCount);
      this.worker = new Thread(this::run, "earlystart-file " + file.path().getFileName());
      worker.setDaemon(true);
    }

    @Override
    public OverlayHead head() {
      return head;
    }

    @Override
    public void stream(int[] segments) {
      for (int s : segments) {
        check(s);
      }
      if (sink.dead()) {
        return;
      }
      for (int s : segments) {
        queue.offerLast(s);
      }
    }

    @Override
    public void demand(int segment) {
      check(segment);
      if (!sink.dead()) {
        queue.offerFirst(-1 - segment);
      }
    }

    @Override
    public byte[] attachment(Attachment a) throws IOException {
      return file.readAttachment(a);
    }

    private void check(int segment) {
      if (segment < 0 || segment >= segmentCount) {
        throw new IllegalArgumentException("segment " + segment + " outside [0, " + segmentCount + ") of "
            + describe());
      }
    }

    private void run() {
      try {
        while (!sink.dead()) {
          int entry = queue.take();
          boolean demanded = entry < 0;
          int index = demanded ? -1 - entry : entry;
          if (!demanded && sink.delivered(index)) {
            continue;
          }
          // unverified: the scheduler checks it and, for a corrupt file, gives up after its attempts
          // with the segment named, where a failed session would only be retried until giveUpAfter
          byte[] frame = file.readSegmentUnverified(head.manifest().segments().get(index));
          sink.segment(index, frame, demanded);
        }
      } catch (InterruptedException e) {
        // closed
      } catch (IOException | RuntimeException e) {
        fail(e);
      }
    }

    private void fail(Throwable e) {
      if (sink.failed(e)) {
        queue.clear();
      }
    }

    @Override
    public void close() {
      if (!sink.close()) {
        return;
      }
      sessions.remove(this);
      worker.interrupt();
      try {
        worker.join(JOIN_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      try {
        file.close();
      } catch (IOException e) {
        // nothing was written; a close error on a read-only file changes nothing
      }
    }
  }
}
