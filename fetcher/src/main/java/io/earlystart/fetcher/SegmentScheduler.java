package io.earlystart.fetcher;

import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.io.Sha256;
import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fetches every segment of one overlay from a {@link SegmentSource}: a background stream in stream
 * order, at most {@code windowBytes} ahead of what has arrived; demands that jump the queue, with
 * concurrent demands for one segment sharing one fetch; SHA-256 of every segment checked against the
 * manifest before the {@link Applier} sees it (a bad segment is fetched again up to {@code
 * maxAttempts} times); reconnection with exponential backoff after a lost session, asking only for
 * what is still missing. Every wait has a deadline.
 *
 * <p>Each segment's life (asked for in the stream or by a demand, arrived, applied; rejected and asked
 * again; forgotten with a lost session) is a {@link SegmentStates} table, changed only by its named
 * transitions; the window counts the stream bytes asked for and not yet taken by the applier.
 *
 * <p>Thread-safe. Segments are verified and applied on one applier thread, in arrival order; state
 * changes happen under one lock that is never held while waiting; sessions are reopened on a control
 * thread and closed on a closer thread ({@link FetchThreads}). {@link #close()} stops everything and
 * fails what still waits.
 */
public final class SegmentScheduler implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(SegmentScheduler.class);

  /** Takes a verified segment; runs on the applier thread. */
  @FunctionalInterface
  public interface Applier {
    void apply(Segment segment, byte[] frame) throws IOException;
  }

  /** Counters for status displays. */
  public record Stats(int segmentsFetched, long bytesFetched, long demands, long retries, long reconnects) {}

  private final SegmentSource source;
  private final Applier applier;
  private final SchedulerOptions options;
  private final FetchThreads threads = new FetchThreads();
  private final Object lock = new Object();
  private final CompletableFuture<Void> all = new CompletableFuture<>();
  private final SegmentWait waits;

  /** Segments applied before {@link #connect()} made {@link #states}: a resumed mount's. */
  private final BitSet presentAtStart;

  // guarded by lock
  private OverlayHead head;
  private Manifest manifest;
  private SegmentSource.Session session;
  private long generation;
  /** Null until {@link #connect()}. */
  private SegmentStates states;
  private final Map<Integer, CompletableFuture<Void>> waiting = new HashMap<>();
  private long lastProgressNanos;
  private long backoffMillis;
  private Throwable lastError;
  private Throwable fatal;
  private boolean closed;
  private boolean streaming;
  private int fetched;
  private long bytes;
  private long demands;
  private long retries;
  private long reconnects;

  /**
   * @param present segments already applied (a resumed mount); copied
   */
  public SegmentScheduler(SegmentSource source, Applier applier, SchedulerOptions options, BitSet present) {
    this.source = source;
    this.applier = applier;
    this.options = options;
    this.presentAtStart = (BitSet) present.clone();
    this.waits = new SegmentWait(source.describe(), this::lastError);
  }

  /**
   * Opens the first session (within the open timeout) and starts the background stream.
   *
   * @return the overlay's verified head
   */
  public OverlayHead start() throws IOException {
    OverlayHead h = connect();
    startStream();
    return h;
  }

  /**
   * Opens the first session (within the open timeout) and returns the verified head, without starting
   * the background stream: demands are served at once, the stream waits for {@link #startStream()}
   * (a mount checks its bases and mounts in between).
   */
  public OverlayHead connect() throws IOException {
    SegmentSource.Session s;
    long gen;
    synchronized (lock) {
      gen = ++generation;
    }
    s = source.open(new GenerationSink(gen), options.openTimeout());
    synchronized (lock) {
      head = s.head();
      manifest = head.manifest();
      states = new SegmentStates(manifest.segments(), presentAtStart);
      session = s;
      lastProgressNanos = System.nanoTime();
      backoffMillis = options.backoffMin().toMillis();
      finishIfComplete();
    }
    return head;
  }

  /**
   * Counts {@code segments} as applied already (a remounted cache), after {@link #connect()} and
   * before {@link #startStream()}: they are neither streamed nor demanded.
   */
  public void assumePresent(BitSet segments) {
    synchronized (lock) {
      if (states == null) {
        throw new IllegalStateException("not connected");
      }
      states.assumeApplied(segments);
      finishIfComplete();
    }
  }

  /** Segments applied so far, including those assumed present. */
  public int presentCount() {
    synchronized (lock) {
      return states == null ? presentAtStart.cardinality() : states.appliedCount();
    }
  }

  /** Starts (or keeps) the background stream after {@link #connect()}. Idempotent. */
  public void startStream() {
    synchronized (lock) {
      streaming = true;
      topUp();
    }
  }

  public OverlayHead head() {
    synchronized (lock) {
      return head;
    }
  }

  public String describe() {
    return source.describe();
  }

  /** An attachment, through the current session. */
  public byte[] attachment(io.earlystart.overlay.format.Attachment a) throws IOException {
    SegmentSource.Session s;
    synchronized (lock) {
      s = session;
    }
    if (s != null) {
      return s.attachment(a);
    }
    // between sessions, or after the stream ended: a short session of its own
    try (SegmentSource.Session own = source.open(new SegmentSource.Sink() {
      @Override
      public void segment(int index, byte[] frame) {}

      @Override
      public void failed(Throwable cause) {}
    }, options.openTimeout())) {
      return own.attachment(a);
    }
  }

  /**
   * Asks for {@code segment} ahead of the stream (one DEMAND to the session) and returns a future that
   * completes once it has been applied; every concurrent caller for one segment shares that future and
   * that one fetch.
   */
  public CompletableFuture<Void> fetchNow(int segment) {
    return arrival(segment, true);
  }

  /**
   * Completes once {@code segment} has been applied, without asking for it ahead of the stream: for a
   * reader that follows the stream (synthesize), where a demand would only reshuffle what is coming.
   */
  public CompletableFuture<Void> whenStreamed(int segment) {
    return arrival(segment, false);
  }

  private CompletableFuture<Void> arrival(int segment, boolean jump) {
    synchronized (lock) {
      if (isPresentLocked(segment)) {
        return CompletableFuture.completedFuture(null);
      }
      if (fatal != null) {
        return CompletableFuture.failedFuture(fatal);
      }
      if (segment < 0 || segment >= states.size()) {
        return CompletableFuture.failedFuture(new IllegalArgumentException("no segment " + segment));
      }
      CompletableFuture<Void> f = waiting.computeIfAbsent(segment, k -> new CompletableFuture<>());
      if (jump && session != null && states.markDemanded(segment)) {
        demands++;
        session.demand(segment);
      }
      return f;
    }
  }

  /**
   * {@link #fetchNow} and wait until {@code segment} has been applied, at most {@code deadline}; fails
   * as {@link SegmentWait} says.
   */
  public void fetchAndWait(int segment, Duration deadline) throws IOException, InterruptedException {
    waits.await(fetchNow(segment), segment, deadline);
  }

  /** Waits, at most {@code deadline}, until the stream has brought {@code segment} (no demand). */
  public void awaitStreamed(int segment, Duration deadline) throws IOException, InterruptedException {
    waits.await(whenStreamed(segment), segment, deadline);
  }

  /** Completes when every segment has been applied, or fails with the error that stopped fetching. */
  public CompletableFuture<Void> completion() {
    return all;
  }

  public boolean isPresent(int segment) {
    synchronized (lock) {
      return isPresentLocked(segment);
    }
  }

  private boolean isPresentLocked(int segment) {
    return states == null ? presentAtStart.get(segment) : states.isApplied(segment);
  }

  public Stats stats() {
    synchronized (lock) {
      return new Stats(fetched, bytes, demands, retries, reconnects);
    }
  }

  /** The last error that cost a session or a connection attempt, or null (for status displays). */
  public Throwable lastError() {
    synchronized (lock) {
      return lastError;
    }
  }

  /** Asks for more of the background stream while less than the window is in flight. Under lock. */
  private void topUp() {
    if (!streaming || session == null || states == null) {
      return;
    }
    int[] batch = states.streamMore(options.windowBytes());
    if (batch.length > 0) {
      session.stream(batch);
    }
  }

  private void finishIfComplete() {
    if (states != null && states.complete() && !all.isDone()) {
      all.complete(null);
      if (session != null) {
        threads.closeLater(session);
        session = null;
      }
    }
  }

  private void onSegment(long gen, int index, byte[] frame) {
    Segment seg;
    synchronized (lock) {
      // a segment that arrived whole is good whatever became of its session since
      if (closed || fatal != null) {
        return;
      }
      if (index < 0 || index >= states.size()) {
        lost(gen, new IOException(source.describe() + " sent segment " + index + ", which does not exist"));
        return;
      }
      if (!states.take(index)) {
        return; // applied already: a demanded segment that also came in the stream
      }
      seg = manifest.segments().get(index);
    }
    if (frame.length != seg.length() || !Arrays.equals(Sha256.of(frame), seg.sha256())) {
      rejected(seg, frame.length);
      return;
    }
    try {
      applier.apply(seg, frame);
    } catch (IOException | RuntimeException e) {
      fail(e);
      return;
    }
    CompletableFuture<Void> f;
    synchronized (lock) {
      states.applied(index);
      fetched++;
      bytes += frame.length;
      lastProgressNanos = System.nanoTime();
      f = waiting.remove(index);
      topUp();
    }
    if (f != null) {
      f.complete(null); // outside the lock: waiters' callbacks may call back in
    }
    synchronized (lock) {
      finishIfComplete();
    }
  }

  private void rejected(Segment seg, int length) {
    synchronized (lock) {
      int tries = states.rejected(seg.index());
      retries++;
      String what = seg + " from " + source.describe() + " failed verification ("
          + (length != seg.length() ? length + " bytes" : "SHA-256 mismatch") + ")";
      if (tries >= options.maxAttempts()) {
        fail(new CorruptOverlayException(source.describe(), seg.fileOffset(head.header()),
            what + " " + tries + " times; giving up"));
        return;
      }
      LOG.warn("{}; fetching it again ({} of {})", what, tries, options.maxAttempts());
      if (session != null && states.markDemanded(seg.index())) {
        session.demand(seg.index());
      }
    }
  }

  /** The session of generation {@code gen} died: drop it and reconnect after a backoff. */
  private void lost(long gen, Throwable cause) {
    synchronized (lock) {
      if (closed || fatal != null || gen != generation || all.isDone()) {
        return;
      }
      LOG.warn("lost {}: {}; reconnecting", source.describe(), cause.toString());
      lastError = cause;
      if (session != null) {
        threads.closeLater(session);
        session = null;
      }
      generation++;
      states.lost();
      threads.later(this::reconnect, backoffMillis);
    }
  }

  private void reconnect() {
    long gen;
    synchronized (lock) {
      if (closed || fatal != null) {
        return;
      }
      long silent = System.nanoTime() - lastProgressNanos;
      if (silent > options.giveUpAfter().toNanos()) {
        fail(new IOException(source.describe() + " unreachable for " + TimeUnit.NANOSECONDS.toSeconds(silent)
            + " s" + (lastError != null ? ": " + lastError.getMessage() : "")));
        return;
      }
      gen = generation;
    }
    SegmentSource.Session s;
    try {
      s = source.open(new GenerationSink(gen), options.openTimeout());
    } catch (IOException | RuntimeException e) {
      synchronized (lock) {
        lastError = e;
        backoffMillis = Math.min(options.backoffMax().toMillis(), Math.max(1, backoffMillis * 2));
        LOG.debug("reconnect to {} failed: {}; next try in {} ms", source.describe(), e.toString(), backoffMillis);
        if (!closed) {
          threads.later(this::reconnect, backoffMillis);
        }
      }
      return;
    }
    synchronized (lock) {
      if (closed || fatal != null || gen != generation) {
        threads.closeLater(s);
        return;
      }
      if (!s.head().id().equals(head.id())) {
        threads.closeLater(s);
        fail(new IOException(source.describe() + " now serves overlay " + s.head().id() + ", not " + head.id()));
        return;
      }
      session = s;
      reconnects++;
      backoffMillis = options.backoffMin().toMillis();
      for (Integer k : waiting.keySet()) {
        if (states.markDemanded(k)) { // not when a copy that arrived is queued for the applier
          s.demand(k);
        }
      }
      topUp();
    }
  }

  /** Stops fetching for good: every wait fails with {@code cause}. */
  private void fail(Throwable cause) {
    fail(cause, true);
  }

  private void fail(Throwable cause, boolean warn) {
    Map<Integer, CompletableFuture<Void>> failed;
    synchronized (lock) {
      if (fatal != null) {
        return;
      }
      fatal = cause;
      failed = new HashMap<>(waiting);
      waiting.clear();
      if (session != null) {
        threads.closeLater(session);
        session = null;
      }
    }
    if (warn) {
      LOG.warn("fetching from {} stopped: {}", source.describe(), cause.getMessage());
    }
    failed.values().forEach(f -> f.completeExceptionally(cause));
    all.completeExceptionally(cause);
  }

  @Override
  public void close() {
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
    }
    fail(new IOException("fetching from " + source.describe() + " was stopped"), false);
    threads.shutdown(); // the segment being applied finishes, uninterrupted
  }

  /** Routes one session's callbacks, tagged with its generation so a dead session's late calls are ignored. */
  private final class GenerationSink implements SegmentSource.Sink {
    private final long gen;

    GenerationSink(long gen) {
      this.gen = gen;
    }

    @Override
    public void segment(int index, byte[] frame) {
      synchronized (lock) {
        if (states != null && index >= 0 && index < states.size()) {
          states.arrived(index);
        }
      }
      threads.apply(() -> onSegment(gen, index, frame));
    }

    @Override
    public void failed(Throwable cause) {
      lost(gen, cause);
    }
  }
}
