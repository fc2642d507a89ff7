package io.earlystart.fetcher.client;

import io.earlystart.fetcher.SegmentSource;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.OverlayHeader;
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
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
 * <p>A session ({@link HttpRangeSession}) runs one stream thread that takes runs of consecutive
 * segments from the stream queue (up to {@link HttpRangeSession#MAX_RUN_BYTES} per request), does one
 * Range GET per run and hands each segment to the sink as soon as its bytes have arrived. Demands are
 * fetched concurrently, one Range GET per segment, on a small executor of their own. <b>HTTP cannot
 * preempt within one connection</b>: a demand does not jump ahead of the bytes of a run already in
 * flight, it travels on a parallel connection instead, and parallel connections share the link, so
 * while a demand is fetched the stream slows down by about as much as the demand takes. Runs are capped
 * so that a stream request never holds much more than {@code MAX_RUN_BYTES} in flight.
 *
 * <p>Timeouts: {@code timeout} (given to {@link #open}) bounds connecting, waiting for response
 * headers, and every gap between body bytes ({@link HttpDeadline}). Any failure (HTTP error, short
 * body, timeout) ends the session with one {@link SegmentSource.Sink#failed}. Thread-safe; closing the source
 * closes its sessions. {@link #describe()} leaves out user info and query (presigned URLs carry
 * credentials there).
 */
public final class HttpRangeSource implements SegmentSource {
  /** Bytes asked for first: the header and, for most overlays, the whole manifest. */
  static final int FIRST_REQUEST = 64 << 10;
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)\\s*");

  private final URI uri;
  private final String described;
  private final Set<HttpRangeSession> sessions = ConcurrentHashMap.newKeySet();

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
  public Session open(SegmentSource.Sink sink, Duration timeout) throws IOException {
    HttpClient client = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(timeout)
        .followRedirects(HttpClient.Redirect.NORMAL)
        .build();
    OverlayHead head = fetchHead(client, timeout);
    HttpRangeSession s = new HttpRangeSession(this, client, sink, head, timeout);
    sessions.add(s);
    s.start();
    return s;
  }

  @Override
  public void close() {
    for (HttpRangeSession s : sessions) {
      s.close();
    }
  }

  /** A session of this source was closed. */
  void forget(HttpRangeSession s) {
    sessions.remove(s);
  }

  @Override
  public String toString() {
    return "HttpRangeSource[" + described + "]";
  }

  private OverlayHead fetchHead(HttpClient client, Duration timeout) throws IOException {
    try (HttpDeadline d = new HttpDeadline(timeout, described)) {
      Ranged r = get(client, 0, FIRST_REQUEST - 1, timeout, d);
      byte[] first;
      try (InputStream in = r.body) {
        first = new byte[(int) r.length];
        int got = d.readFully(in, first);
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
          int got = d.readFully(in, stored, have, stored.length - have);
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
  record Ranged(InputStream body, long length, long total) {}

  /** GET {@code bytes=first-last}; anything but a matching 206 is an IOException naming the URL. */
  Ranged get(HttpClient client, long first, long last, Duration timeout, HttpDeadline d) throws IOException {
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
}
