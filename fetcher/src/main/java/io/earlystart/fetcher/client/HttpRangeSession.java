package io.earlystart.fetcher.client;

import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.SegmentSource.Session;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.Segment;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One session of an {@link HttpRangeSource}: one {@link HttpClient}, a stream thread that takes runs of
 * consecutive segments from the stream queue (up to {@link #MAX_RUN_BYTES} per Range GET) and a small
 * executor that fetches demands, one Range GET each, in parallel with the stream. Each segment goes to
 * the sink as soon as its bytes are in; the first failure ends the session with one {@link
 * SegmentSource.Sink#failed}.
 *
 * <p>Thread-safe. The session owns its threads and every {@link HttpDeadline} in flight ({@link
 * #close} aborts them); its {@link GuardedSink} makes sure no sink call starts once the session is
 * closed or dead.
 */
final class HttpRangeSession implements Session {
  /** Most bytes one stream request asks for. */
  static final long MAX_RUN_BYTES = 8 << 20;
  private static final int DEMAND_THREADS = 2;
  private static final long JOIN_MILLIS = 2_000;
  private static final AtomicInteger SESSIONS = new AtomicInteger();

  private final HttpRangeSource source;
  private final HttpClient client;
  private final GuardedSink sink;
  private final OverlayHead head;
  private final Duration timeout;
  private final List<Segment> segments;
  /** Batches given to {@link #stream}, whole: the streamer never sees half a batch (one request per run). */
  private final LinkedBlockingQueue<int[]> streamQueue = new LinkedBlockingQueue<>();
  private final Set<Integer> demanding = ConcurrentHashMap.newKeySet();
  /** The fetches in progress, aborted by {@link #stop}; guarded by itself. */
  private final Set<HttpDeadline> active = new java.util.HashSet<>();
  private final Thread streamer;
  private final ExecutorService demands;

  HttpRangeSession(HttpRangeSource source, HttpClient client, SegmentSource.Sink sink, OverlayHead head,
      Duration timeout) {
    this.source = source;
    this.client = client;
    this.head = head;
    this.timeout = timeout;
    this.segments = head.manifest().segments();
    this.sink = new GuardedSink(sink, segments.size());
    int n = SESSIONS.incrementAndGet();
    this.streamer = new Thread(this::streamLoop, "earlystart-http-stream-" + n);
    streamer.setDaemon(true);
    AtomicInteger threads = new AtomicInteger();
    this.demands = Executors.newFixedThreadPool(DEMAND_THREADS, r -> {
      Thread t = new Thread(r, "earlystart-http-demand-" + n + "-" + threads.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  /** Starts the stream thread; once, by the source that made the session. */
  void start() {
    streamer.start();
  }

  @Override
  public OverlayHead head() {
    return head;
  }

  @Override
  public void stream(int[] indexes) {
    for (int i : indexes) {
      check(i);
    }
    if (sink.dead()) {
      return;
    }
    streamQueue.offer(indexes.clone());
  }

  @Override
  public void demand(int segment) {
    check(segment);
    if (sink.dead() || !demanding.add(segment)) {
      return; // dead, or already on its way
    }
    try {
      demands.execute(() -> fetchDemand(segment));
    } catch (RejectedExecutionException e) {
      demanding.remove(segment); // closed meanwhile
    }
  }

  @Override
  public byte[] attachment(Attachment a) throws IOException {
    byte[] frame = new byte[a.length()];
    long at = head.header().dataStart() + a.offset();
    HttpDeadline d = register(new HttpDeadline(timeout, source.describe()));
    try (d) {
      if (frame.length > 0) {
        HttpRangeSource.Ranged r = source.get(client, at, at + frame.length - 1, timeout, d);
        try (InputStream in = r.body()) {
          int got = d.readFully(in, frame);
          if (got < frame.length) {
            throw new CorruptOverlayException(source.describe(), at + got, "attachment " + a.name() + " truncated");
          }
        }
      }
    } finally {
      unregister(d);
    }
    return a.decode(frame, source.describe(), at);
  }

  private void check(int segment) {
    if (segment < 0 || segment >= segments.size()) {
      throw new IllegalArgumentException("segment " + segment + " outside [0, " + segments.size() + ") of "
          + source.describe());
    }
  }

  private boolean wanted(int index) {
    return !sink.delivered(index) && !demanding.contains(index);
  }

  private void streamLoop() {
    java.util.ArrayDeque<Integer> pending = new java.util.ArrayDeque<>();
    try {
      while (!sink.dead()) {
        if (pending.isEmpty()) {
          for (int i : streamQueue.take()) {
            pending.add(i);
          }
        }
        for (int[] more; (more = streamQueue.poll()) != null; ) {
          for (int i : more) {
            pending.add(i);
          }
        }
        int firstIndex = pending.poll();
        if (!wanted(firstIndex)) {
          continue;
        }
        List<Segment> run = new ArrayList<>();
        run.add(segments.get(firstIndex));
        long bytes = run.get(0).length();
        for (Integer next; (next = pending.peek()) != null; ) {
          Segment s = segments.get(next);
          if (!wanted(next)) {
            pending.poll();
            continue;
          }
          if (s.offset() != run.get(run.size() - 1).end() || bytes + s.length() > MAX_RUN_BYTES) {
            break;
          }
          pending.poll();
          run.add(s);
          bytes += s.length();
        }
        fetchRun(run, false);
      }
    } catch (InterruptedException | IOException | RuntimeException e) {
      fail(e); // ignored once closed
    }
  }

  private void fetchDemand(int index) {
    try {
      fetchRun(List.of(segments.get(index)), true);
    } catch (IOException | RuntimeException e) {
      fail(e);
    } finally {
      demanding.remove(index);
    }
  }

  /** One Range GET for consecutive segments, each delivered as soon as its bytes are in. */
  private void fetchRun(List<Segment> run, boolean demanded) throws IOException {
    long dataStart = head.header().dataStart();
    long first = dataStart + run.get(0).offset();
    long end = dataStart + run.get(run.size() - 1).end();
    HttpDeadline d = register(new HttpDeadline(timeout, source.describe()));
    try (d) {
      if (end == first) { // only empty segments
        for (Segment s : run) {
          sink.segment(s.index(), new byte[0], demanded);
        }
        return;
      }
      HttpRangeSource.Ranged r = source.get(client, first, end - 1, timeout, d);
      try (InputStream in = r.body()) {
        long at = first;
        for (Segment s : run) {
          byte[] frame = new byte[s.length()];
          int got = d.readFully(in, frame);
          if (got < frame.length) {
            throw new IOException("short read from " + source.describe() + ": the body ended at byte " + (at + got)
                + ", in the middle of " + s);
          }
          at += got;
          sink.segment(s.index(), frame, demanded);
        }
      }
    } finally {
      unregister(d);
    }
  }

  /** Tracks {@code d} until it is closed; refuses once the session is dead. */
  private HttpDeadline register(HttpDeadline d) throws IOException {
    synchronized (active) {
      if (sink.dead()) {
        d.close();
        throw new InterruptedIOException("session closed");
      }
      active.add(d);
    }
    return d;
  }

  private void unregister(HttpDeadline d) {
    synchronized (active) {
      active.remove(d);
    }
  }

  private void fail(Throwable e) {
    if (sink.failed(e)) {
      stop();
    }
  }

  private void stop() {
    synchronized (active) {
      for (HttpDeadline d : active) {
        d.abort(false);
      }
      active.clear();
    }
    streamQueue.clear();
    streamer.interrupt();
    demands.shutdownNow();
  }

  @Override
  public void close() {
    if (!sink.close()) {
      return;
    }
    source.forget(this);
    stop();
    try {
      if (Thread.currentThread() != streamer) {
        streamer.join(JOIN_MILLIS);
      }
      demands.awaitTermination(JOIN_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
