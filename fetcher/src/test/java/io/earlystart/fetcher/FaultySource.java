package io.earlystart.fetcher;

import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.OverlayHead;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fault-injecting source over a local overlay: sessions deliver segments from their own thread,
 * demands first, with a delay per segment; it can corrupt a segment's first deliveries, kill a session
 * after some segments, refuse connections, and counts what was asked for. Thread-safe.
 */
final class FaultySource implements SegmentSource {
  final OverlayFile file;
  final ConcurrentHashMap<Integer, AtomicInteger> corruptions = new ConcurrentHashMap<>();
  final ConcurrentHashMap<Integer, AtomicInteger> delivered = new ConcurrentHashMap<>();
  final AtomicInteger demands = new AtomicInteger();
  final AtomicInteger opens = new AtomicInteger();
  volatile int refuseOpens;
  volatile int killAfter = -1; // first session dies after delivering this many segments
  volatile long delayMillis;
  volatile boolean gone;
  volatile int withhold = -1; // never delivered

  FaultySource(Path overlay) throws IOException {
    file = OverlayFile.open(overlay);
  }

  void corrupt(int segment, int times) {
    corruptions.put(segment, new AtomicInteger(times));
  }

  int deliveries(int segment) {
    AtomicInteger n = delivered.get(segment);
    return n == null ? 0 : n.get();
  }

  @Override
  public String describe() {
    return "faulty:" + file.path().getFileName();
  }

  @Override
  public Session open(SegmentSource.Sink sink, Duration timeout) throws IOException {
    if (gone || refuseOpens > 0) {
      refuseOpens--;
      throw new IOException("connection refused");
    }
    opens.incrementAndGet();
    return new FaultySession(sink);
  }

  @Override
  public void close() throws IOException {
    file.close();
  }

  private final class FaultySession implements Session, Runnable {
    private final SegmentSource.Sink sink;
    private final LinkedBlockingDeque<Integer> queue = new LinkedBlockingDeque<>();
    private final Thread thread;
    private volatile boolean closed;
    private final boolean mortal = opens.get() == 1 && killAfter >= 0;

    FaultySession(SegmentSource.Sink sink) {
      this.sink = sink;
      thread = new Thread(this, "faulty-session");
      thread.setDaemon(true);
      thread.start();
    }

    @Override
    public OverlayHead head() {
      return new OverlayHead(file.header(), file.manifest());
    }

    @Override
    public void stream(int[] segments) {
      for (int s : segments) {
        queue.addLast(s);
      }
    }

    @Override
    public void demand(int segment) {
      demands.incrementAndGet();
      queue.addFirst(segment);
    }

    @Override
    public byte[] attachment(Attachment a) throws IOException {
      return file.readAttachment(a);
    }

    @Override
    public void run() {
      int sent = 0;
      try {
        while (!closed) {
          Integer s = queue.poll(50, TimeUnit.MILLISECONDS);
          if (s == null) {
            if (gone) {
              throw new IOException("source gone");
            }
            continue;
          }
          if (gone) {
            throw new IOException("source gone");
          }
          if (s == withhold) {
            continue;
          }
          if (delayMillis > 0) {
            Thread.sleep(delayMillis);
          }
          byte[] frame = file.readSegment(file.manifest().segments().get(s));
          AtomicInteger c = corruptions.get(s);
          if (c != null && c.getAndDecrement() > 0) {
            frame[frame.length / 2] ^= 1;
          }
          delivered.computeIfAbsent(s, k -> new AtomicInteger()).incrementAndGet();
          if (closed) {
            return;
          }
          sink.segment(s, frame);
          if (mortal && ++sent >= killAfter) {
            throw new IOException("connection reset (injected)");
          }
        }
      } catch (IOException e) {
        if (!closed) {
          closed = true;
          sink.failed(e);
        }
      } catch (InterruptedException e) {
        // closed
      }
    }

    @Override
    public void close() {
      closed = true;
      thread.interrupt();
    }
  }
}
