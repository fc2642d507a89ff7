package io.earlystart.fetcher.client;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Aborts a fetch once no bytes have arrived for the timeout, or on request: closes the response body
 * and interrupts the thread. Both are needed: the JDK client bounds the wait for response headers but
 * not the gaps in a body read through an {@link InputStream}, and its body stream (JDK 17) swallows
 * interrupts, so only closing it ends a blocked read. One watchdog thread, shared by every deadline,
 * checks them.
 *
 * <p>Made and closed by the fetching thread, in try-with-resources, which also reads through {@link
 * #readFully} (every chunk read counts as progress); {@link #abort} may come from any thread.
 */
final class HttpDeadline implements AutoCloseable {
  private static final int READ_CHUNK = 64 << 10;
  /** Interrupts threads whose reads have stalled longer than their timeout. */
  private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "earlystart-http-watchdog");
    t.setDaemon(true);
    return t;
  });

  private final Thread thread = Thread.currentThread();
  private final Duration timeout;
  private final String described;
  private final ScheduledFuture<?> check;
  private volatile long last = System.nanoTime();
  private InputStream body;
  private boolean expired;
  private boolean aborted;
  private boolean closed;

  /** @param described the source, for the timeout's message */
  HttpDeadline(Duration timeout, String described) {
    this.timeout = timeout;
    this.described = described;
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

  /** Reads all of {@code b}; fewer bytes only at the end of the stream. */
  int readFully(InputStream in, byte[] b) throws IOException {
    return readFully(in, b, 0, b.length);
  }

  /** Reads {@code len} bytes into {@code into} at {@code at}; fewer only at the end of the stream. */
  int readFully(InputStream in, byte[] into, int at, int len) throws IOException {
    int n = 0;
    try {
      while (n < len) {
        int r = in.read(into, at + n, Math.min(len - n, READ_CHUNK));
        if (r < 0) {
          break;
        }
        n += r;
        touch();
      }
    } catch (IOException e) {
      if (expired()) {
        throw timedOut("the body");
      }
      throw e;
    }
    return n;
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
