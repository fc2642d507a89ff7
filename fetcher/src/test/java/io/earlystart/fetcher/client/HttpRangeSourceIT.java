package io.earlystart.fetcher.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.earlystart.fetcher.SegmentSource;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The {@link SegmentSource} contract for {@link HttpRangeSource} against a real nginx on loopback, and
 * its failure modes against small misbehaving servers (the JDK's {@link HttpServer}).
 */
class HttpRangeSourceIT extends SegmentSourceContract {
  private static Nginx nginx;

  @BeforeAll
  static void startNginx() throws Exception {
    nginx = Nginx.start(dir, dir.resolve("nginx"));
  }

  @AfterAll
  static void stopNginx() {
    if (nginx != null) {
      nginx.close();
    }
  }

  @Override
  SegmentSource source(String name) {
    return new HttpRangeSource(nginx.uri(name));
  }

  @Test
  void streamOfConsecutiveSegmentsIsOneRequest() throws Exception {
    // a marker in the query string tells this test's requests from late ones of other tests
    String marker = "run=consecutive-" + System.nanoTime();
    Recorder sink = new Recorder();
    try (SegmentSource src = new HttpRangeSource(nginx.uri(OVERLAY + "?" + marker));
        SegmentSource.Session s = src.open(sink, TIMEOUT)) {
      s.stream(all());
      sink.awaitAll(segmentCount());
    }
    long dataStart = file.header().dataStart();
    int expected = (dataStart <= HttpRangeSource.FIRST_REQUEST ? 1 : 2) + 1;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (linesWith(marker).size() < expected && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    Thread.sleep(100);
    var lines = linesWith(marker);
    assertEquals(expected, lines.size(), String.join("\n", lines));
    assertTrue(lines.stream().allMatch(l -> l.contains("\"GET /" + OVERLAY + "?" + marker + " HTTP/1.1\" 206 ")),
        lines.toString());
  }

  private java.util.List<String> linesWith(String marker) throws IOException {
    return nginx.accessLog().stream().filter(l -> l.contains(marker)).toList();
  }

  @Test
  void describeLeavesOutCredentials() {
    String d = new HttpRangeSource(URI.create("https://user:secret@example.com:8443/o/vm.esov?X-Amz-Signature=abc"))
        .describe();
    assertEquals("https://example.com:8443/o/vm.esov?...", d);
  }

  @Test
  void serverThatIgnoresRangeIsRefused() throws Exception {
    byte[] whole = Files.readAllBytes(dir.resolve(OVERLAY));
    try (FakeServer server = new FakeServer(ex -> reply(ex, 200, null, whole));
        SegmentSource src = new HttpRangeSource(server.uri())) {
      IOException e = assertThrows(IOException.class, () -> src.open(new Recorder(), TIMEOUT));
      assertTrue(e.getMessage().contains("does not honour Range"), e.getMessage());
      assertTrue(e.getMessage().contains(server.uri().toString()), e.getMessage());
    }
  }

  @Test
  void wrongContentRangeIsRefused() throws Exception {
    byte[] whole = Files.readAllBytes(dir.resolve(OVERLAY));
    try (FakeServer server = new FakeServer(ex -> reply(ex, 206, "bytes 1-65536/" + whole.length,
        Arrays.copyOfRange(whole, 1, 65537)));
        SegmentSource src = new HttpRangeSource(server.uri())) {
      IOException e = assertThrows(IOException.class, () -> src.open(new Recorder(), TIMEOUT));
      assertTrue(e.getMessage().contains("does not honour Range"), e.getMessage());
    }
  }

  @Test
  void bodyCutShortFailsTheSessionOnce() throws Exception {
    byte[] whole = Files.readAllBytes(dir.resolve(OVERLAY));
    try (FakeServer server = new FakeServer(ex -> serveRange(ex, whole, false));
        SegmentSource src = new HttpRangeSource(server.uri())) {
      Recorder sink = new Recorder();
      SegmentSource.Session s = src.open(sink, TIMEOUT);
      s.stream(all());
      s.demand(segmentCount() - 1);
      Throwable e = sink.awaitFailure();
      assertInstanceOf(IOException.class, e);
      Thread.sleep(200);
      assertEquals(1, sink.failures.get(), "failed exactly once");
      s.close();
    }
  }

  @Test
  void stalledBodyTimesOut() throws Exception {
    byte[] whole = Files.readAllBytes(dir.resolve(OVERLAY));
    try (FakeServer server = new FakeServer(ex -> serveRange(ex, whole, true));
        SegmentSource src = new HttpRangeSource(server.uri())) {
      Recorder sink = new Recorder();
      long started = System.nanoTime();
      SegmentSource.Session s = src.open(sink, Duration.ofMillis(500));
      s.stream(all());
      Throwable e = sink.awaitFailure();
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      assertInstanceOf(HttpTimeoutException.class, e, String.valueOf(e));
      assertTrue(millis < 3_000, "timed out after " + millis + " ms");
      assertFalse(Thread.currentThread().isInterrupted());
      s.close();
    }
  }

  @Test
  void silentServerTimesOutOnOpen() throws Exception {
    try (FakeServer server = new FakeServer(ex -> sleep(10_000));
        SegmentSource src = new HttpRangeSource(server.uri())) {
      long started = System.nanoTime();
      assertThrows(HttpTimeoutException.class, () -> src.open(new Recorder(), Duration.ofMillis(300)));
      assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(3));
      assertFalse(Thread.currentThread().isInterrupted());
    }
  }

  // ---- misbehaving servers ----------------------------------------------------------------------

  private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-(\\d+)");

  /** Honours Range for the head; for later requests sends half the body and then closes or stalls. */
  private static void serveRange(HttpExchange ex, byte[] whole, boolean stall) throws IOException {
    Matcher m = RANGE.matcher(ex.getRequestHeaders().getFirst("Range"));
    if (!m.matches()) {
      reply(ex, 400, null, new byte[0]);
      return;
    }
    int first = Integer.parseInt(m.group(1));
    int last = Math.min(Integer.parseInt(m.group(2)), whole.length - 1);
    byte[] body = Arrays.copyOfRange(whole, first, last + 1);
    if (first == 0) {
      reply(ex, 206, "bytes " + first + "-" + last + "/" + whole.length, body);
      return;
    }
    ex.getResponseHeaders().set("Content-Range", "bytes " + first + "-" + last + "/" + whole.length);
    ex.sendResponseHeaders(206, body.length);
    OutputStream out = ex.getResponseBody();
    out.write(body, 0, body.length / 2);
    out.flush();
    if (stall) {
      sleep(10_000);
    }
    ex.close(); // drops the connection without finishing the body

  }

  private static void reply(HttpExchange ex, int status, String contentRange, byte[] body) throws IOException {
    if (contentRange != null) {
      ex.getResponseHeaders().set("Content-Range", contentRange);
    }
    ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static final class FakeServer implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "fake-http");
      t.setDaemon(true);
      return t;
    });

    FakeServer(HttpHandler handler) throws IOException {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      server.createContext("/", handler);
      server.setExecutor(pool);
      server.start();
    }

    URI uri() {
      return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/" + OVERLAY);
    }

    @Override
    public void close() {
      pool.shutdownNow();
      server.stop(0);
    }
  }
}
