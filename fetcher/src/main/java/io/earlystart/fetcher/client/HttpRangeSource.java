package io.earlystart.fetcher.client;

import io.earlystart.fetcher.SegmentSink;
import io.earlystart.fetcher.SegmentSource;
import io.earlystart.overlay.Attachment;
import io.earlystart.overlay.CorruptOverlayException;
import io.earlystart.overlay.OverlayHead;
import io.earlystart.overlay.OverlayHeader;
import io.earlystart.overlay.Segment;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@link SegmentSource} for an overlay file on any HTTP server that honours Range requests (nginx,
 * Apache, S3-compatible object stores), with the JDK's {@link HttpClient} over HTTP/1.1.
 *
 * <p>{@link #open} fetches {@code bytes=0-65535}, decodes the header, fetches the rest of the
 * manifest if it is longer, and verifies the head; the {@code Content-Range} total must equal the
 * length the manifest implies. A server that answers 200 (the whole file) instead of 206 does not
 * honour Range requests and is refused rather than downloaded in full.
 *
 * <p>A session runs one stream thread that takes runs of consecutive segments from the stream queue
 * (up to {@link #MAX_RUN_BYTES} per request), does one Range GET per run and hands each segment to
 * the sink as soon as its bytes have arrived. Demands are fetched concurrently, one Range GET per
 * segment, on a small executor of their own. <b>HTTP cannot preempt within one connection</b>: a
 * demand does not jump ahead of the bytes of a run already in flight, it travels on a parallel
 * connection instead, and parallel connections share the link, so while a demand is fetched the
 * stream slows down by about as much as the demand takes. Runs are capped so that a stream request
 * never holds much more than {@link #MAX_RUN_BYTES} in flight.
 *
 * <p>Timeouts: {@code timeout} (given to {@link #open}) bounds connecting, waiting for response
 * headers, and every gap between body bytes. Any failure (HTTP error, short body, timeout) ends the
 * session with one {@link SegmentSink#failed}. Thread-safe; closing the source closes its sessions.
 * {@link #describe()} leaves out user info and query (presigned URLs carry credentials there).
 */
public final class HttpRangeSource implements SegmentSource {
  /** Bytes asked for first: the header and, for most overlays, the whole manifest. */
  static final int FIRST_REQUEST = 64 << 10;
  /** Most bytes one stream request asks for. */
  static final long MAX_RUN_BYTES = 8 << 20;
  private static final int DEMAND_THREADS = 2;
  private static final int READ_CHUNK = 64 << 10;
  private static final long JOIN_MILLIS = 2_000;
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)\\s*");
  private static final AtomicInteger SESSIONS = new AtomicInteger();
  /** Interrupts threads whose reads have stalled longer than their timeout. */
  private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "earlystart-http-watchdog");
    t.setDaemon(true);
    return t;
  });

  private final URI uri;
  private final String described;
  private final Set<HttpSession> sessions = ConcurrentHashMap.newKeySet();

  public HttpRangeSource(URI uri) {
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
      throw new IllegalArgumentException("not an http(s) URL: " + uri);
    }
    this.uri = uri;
    this.described = scheme + "://" + uri.getHost() + (uri.getPort() >= 0 ? ":" + uri.getPort() : "")
        + uri.getRawPath() + (uri.getRawQuery() != null ? "?..." : "");
  }

  @Override
  public String describe() {
    return described;
  }

  @Override
  public Session open(SegmentSink sink, Duration timeout) throws IOException {
    HttpClient client = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(timeout)
        .followRedirects(HttpClient.Redirect.NORMAL)
        .build();
    OverlayHead head = fetchHead(client, timeout);
    HttpSession s = new HttpSession(client, sink, head, timeout);
    sessions.add(s);
    s.streamer.start();
    return s;
  }

  @Override
  public void close() {
    for (HttpSession s : sessions) {
      s.close();
    }
  }

  @Override
  public String toString() {
    return "HttpRangeSource[" + described + "]";
  }

  private OverlayHead fetchHead(HttpClient client, Duration timeout) throws IOException {
    try (Deadline d = new Deadline(timeout)) {
      Ranged r = get(client, 0, FIRST_REQUEST - 1, timeout, d);
      byte[] first;
      try (InputStream in = r.body) {
        first = new byte[(int) r.length];
        int got = readFully(in, first, d);
        first = got < first.length ? Arrays.copyOf(first, got) : first;
      }
      OverlayHeader header = OverlayHeader.decode(Arrays.copyOf(first, Math.max(first.length, OverlayHeader.SIZE)),
          first.length, described);
      long manifestEnd = OverlayHeader.SIZE + (long) header.manifestLength();
      if (r.total >= 0 && r.total < manifestEnd) {
        throw new CorruptOverlayException(described, r.total,
            "truncated manifest: the file has " + r.total + " bytes, its manifest ends at " + manifestEnd);
      }
      byte[] stored = new byte[header.manifestLength()];
      int have = Math.min(first.length - OverlayHeader.SIZE, stored.length);
      System.arraycopy(first, OverlayHeader.SIZE, stored, 0, have);
      if (have < stored.length) {
        Ranged rest = get(client, first.length, manifestEnd - 1, timeout, d);
        try (InputStream in = rest.body) {
          int got = readFully(in, stored, have, stored.length - have, d);
          if (have + got < stored.length) {
            stored = Arrays.copyOf(stored, have + got); // OverlayHead.of names the truncation
          }
        }
      }
      OverlayHead head = OverlayHead.of(header, stored, described);
      if (r.total >= 0 && r.total != head.fileLength()) {
        throw new CorruptOverlayException(described, Math.min(r.total, head.fileLength()), r.total < head.fileLength()
            ? "truncated: file has " + r.total + " bytes, its segments end at " + head.fileLength()
            : (r.total - head.fileLength()) + " unexpected bytes after the last segment");
      }
      return head;
    }
  }

  /** A 206 response: its body stream (the caller closes it), length and the file's total length or -1. */
  private record Ranged(InputStream body, long length, long total) {}

  /** GET {@code bytes=first-last}; anything but a matching 206 is an IOException naming the URL. */
  private Ranged get(HttpClient client, long first, long last, Duration timeout, Deadline d) throws IOException {
    String range = "bytes=" + first + "-" + last;
    HttpRequest req = HttpRequest.newBuilder(uri).timeout(timeout).header("Range", range).GET().build();
    HttpResponse<InputStream> resp;
    d.touch();
    try {
      resp = client.send(req, HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      if (d.expired()) {
        throw d.timedOut(range);
      }
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while fetching " + range + " of " + described);
    } catch (HttpTimeoutException e) {
      throw (IOException) new HttpTimeoutException(e.getMessage() + " (" + timeout.toMillis() + " ms) fetching "
          + range + " of " + described).initCause(e);
    } catch (IOException e) {
      if (d.expired()) {
        throw d.timedOut(range);
      }
      throw new IOException("cannot fetch " + range + " of " + described + ": " + e, e);
    }
    d.body(resp.body());
    int status = resp.statusCode();
    if (status == 206) {
      String cr = resp.headers().firstValue("Content-Range").orElse("");
      Matcher m = CONTENT_RANGE.matcher(cr);
      long total = -1;
      boolean ok = m.matches();
      if (ok) {
        long start = Long.parseLong(m.group(1));
        long end = Long.parseLong(m.group(2));
        total = m.group(3).equals("*") ? -1 : Long.parseLong(m.group(3));
        ok = start == first && end <= last && end >= start && (end == last || end == total - 1);
      }
      if (ok) {
        return new Ranged(resp.body(), Long.parseLong(m.group(2)) - first + 1, total);
      }
      resp.body().close();
      throw new IOException(described + " does not honour Range requests: asked for " + range
          + ", got Content-Range '" + cr + "'");
    }
    resp.body().close();
    if (status == 404 || status == 410) {
      throw new FileNotFoundException("not found: " + described);
    }
    if (status == 200) {
      throw new IOException(described + " does not honour Range requests (HTTP 200 with the whole file for "
          + range + ")");
    }
    if (status == 416) {
      throw new CorruptOverlayException(described, first, "truncated: the server has no bytes at " + range);
    }
    throw new IOException("HTTP " + status + " for " + range + " of " + described);
  }

  private static int readFully(InputStream in, byte[] b, Deadline d) throws IOException {
    return readFully(in, b, 0, b.length, d);
  }

  /** Reads {@code len} bytes into {@code into} at {@code at}; fewer only at the end of the stream. */
  private static int readFully(InputStream in, byte[] into, int at, int len, Deadline d) throws IOException {
    int n = 0;
    try {
      while (n < len) {
        int r = in.read(into, at + n, Math.min(len - n, READ_CHUNK));
        if (r < 0) {
          break;
        }
        n += r;
        d.touch();
      }
    } catch (IOException e) {
      if (d.expired()) {
        throw d.timedOut("the body");
      }
      throw e;
    }
    return n;
  }

  /**
   * Aborts a fetch once no bytes have arrived for the timeout, or on request: closes the response body
   * and interrupts the thread. Both are needed: the JDK client bounds the wait for response headers but
   * not the gaps in a body read through an {@link InputStream}, and its body stream (JDK 17) swallows
   * interrupts, so only closing it ends a blocked read. Made and closed by the fetching thread, in
   * try-with-resources; {@link #abort} may come from any thread.
   */
  private final class Deadline implements AutoCloseable {
    private final Thread thread = Thread.currentThread();
    private final Duration timeout;
    private final ScheduledFuture<?> check;
    private volatile long last = System.nanoTime();
    private InputStream body;
    private boolean expired;
    private boolean aborted;
    private boolean closed;

    Deadline(Duration timeout) {
      this.timeout = timeout;
      long period = Math.max(10, Math.min(timeout.toMillis() / 4, 500));
      this.check = WATCHDOG.scheduleWithFixedDelay(this::check, period, period, TimeUnit.MILLISECONDS);
    }

    void touch() {
      last = System.nanoTime();
    }

    /** The body now being read, closed on abort. */
    synchronized void body(InputStream in) throws IOException {
      body = in;
      if (aborted) {
        in.close();
      }
    }

    synchronized boolean expired() {
      return expired;
    }

    IOException timedOut(String what) {
      return new HttpTimeoutException("no data for " + timeout.toMillis() + " ms fetching " + what + " of "
          + described);
    }

    private void check() {
      if (System.nanoTime() - last > timeout.toNanos()) {
        abort(true);
      }
    }

    synchronized void abort(boolean timedOut) {
      if (closed || aborted) {
        return;
      }
      aborted = true;
      expired = timedOut;
      if (body != null) {
        try {
          body.close();
        } catch (IOException | RuntimeException e) {
          // aborting anyway
        }
      }
      thread.interrupt();
    }

    @Override
    public synchronized void close() {
      closed = true;
      check.cancel(false);
      if (aborted) {
        Thread.interrupted(); // our interrupt has become an exception (timeout or session closed)
      }
    }
  }

  /** One HTTP client: a stream thread, a demand executor, and the sink behind one lock. */
  private final class HttpSession implements Session {
    private final HttpClient client;
    private final SegmentSink sink;
    private final OverlayHead head;
    private final Duration timeout;
    private final List<Segment> segments;
    /** Batches given to {@link #stream}, whole: the streamer never sees half a batch (one request per run). */
    private final LinkedBlockingQueue<int[]> streamQueue = new LinkedBlockingQueue<>();
    private final Set<Integer> demanding = ConcurrentHashMap.newKeySet();
    /** The fetches in progress, aborted by {@link #stop}; guarded by itself. */
    private final Set<Deadline> active = new java.util.HashSet<>();
    private final Thread streamer;
    private final ExecutorService demands;
    /** Guards the sink and {@link #delivered}: no sink call starts once closed or dead. */
    private final Object sinkLock = new Object();
    private final BitSet delivered;
    private boolean closed;
    private volatile boolean dead;

    HttpSession(HttpClient client, SegmentSink sink, OverlayHead head, Duration timeout) {
      this.client = client;
      this.sink = sink;
      this.head = head;
      this.timeout = timeout;
      this.segments = head.manifest().segments();
      this.delivered = new BitSet(segments.size());
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

    @Override
    public OverlayHead head() {
      return head;
    }

    @Override
    public void stream(int[] indexes) {
      for (int i : indexes) {
        check(i);
      }
      if (dead) {
        return;
      }
      streamQueue.offer(indexes.clone());
    }

    @Override
    public void demand(int segment) {
      check(segment);
      if (dead || !demanding.add(segment)) {
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
      Deadline d = register(new Deadline(timeout));
      try (d) {
        if (frame.length > 0) {
          Ranged r = get(client, at, at + frame.length - 1, timeout, d);
          try (InputStream in = r.body) {
            int got = readFully(in, frame, d);
            if (got < frame.length) {
              throw new CorruptOverlayException(described, at + got, "attachment " + a.name() + " truncated");
            }
          }
        }
      } finally {
        unregister(d);
      }
      return Attachments.verify(a, frame, described, at);
    }

    private void check(int segment) {
      if (segment < 0 || segment >= segments.size()) {
        throw new IllegalArgumentException("segment " + segment + " outside [0, " + segments.size() + ") of "
            + described);
      }
    }

    private boolean wanted(int index) {
      synchronized (sinkLock) {
        return !delivered.get(index) && !demanding.contains(index);
      }
    }

    private void streamLoop() {
      java.util.ArrayDeque<Integer> pending = new java.util.ArrayDeque<>();
      try {
        while (!dead) {
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
      Deadline d = register(new Deadline(timeout));
      try (d) {
        if (end == first) { // only empty segments
          for (Segment s : run) {
            deliver(s.index(), new byte[0], demanded);
          }
          return;
        }
        Ranged r = get(client, first, end - 1, timeout, d);
        try (InputStream in = r.body) {
          long at = first;
          for (Segment s : run) {
            byte[] frame = new byte[s.length()];
            int got = readFully(in, frame, d);
            if (got < frame.length) {
              throw new IOException("short read from " + described + ": the body ended at byte " + (at + got)
                  + ", in the middle of " + s);
            }
            at += got;
            deliver(s.index(), frame, demanded);
          }
        }
      } finally {
        unregister(d);
      }
    }

    /** Tracks {@code d} until it is closed; refuses once the session is dead. */
    private Deadline register(Deadline d) throws IOException {
      synchronized (active) {
        if (dead) {
          d.close();
          throw new InterruptedIOException("session closed");
        }
        active.add(d);
      }
      return d;
    }

    private void unregister(Deadline d) {
      synchronized (active) {
        active.remove(d);
      }
    }

    private void deliver(int index, byte[] frame, boolean demanded) {
      synchronized (sinkLock) {
        if (closed || dead || !demanded && delivered.get(index)) {
          return;
        }
        delivered.set(index);
        sink.segment(index, frame);
      }
    }

    private void fail(Throwable e) {
      synchronized (sinkLock) {
        if (closed || dead) {
          return;
        }
        dead = true;
        sink.failed(e);
      }
      stop();
    }

    private void stop() {
      synchronized (active) {
        for (Deadline d : active) {
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
      synchronized (sinkLock) {
        if (closed) {
          return;
        }
        closed = true;
        dead = true;
      }
      sessions.remove(this);
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
}
