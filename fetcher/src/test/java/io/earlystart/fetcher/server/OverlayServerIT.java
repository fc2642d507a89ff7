package io.earlystart.fetcher.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.TestOverlays;
import io.earlystart.fetcher.client.ProtocolSource;
import io.earlystart.fetcher.client.Sources;
import io.earlystart.fetcher.protocol.Frame;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.Segment;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The protocol server and client over real loopback sockets. */
class OverlayServerIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @TempDir
  static Path dir;

  static Path served;
  static OverlayFile big;
  static OverlayFile small;
  static OverlayServer server;

  @BeforeAll
  static void setUp() throws Exception {
    LeakWatch.install();
    served = Files.createDirectories(dir.resolve("served"));
    big = OverlayFile.open(TestOverlays.create(served, "big", 42, 3 << 20, 1 << 20));
    small = OverlayFile.open(TestOverlays.create(served, "small", 7, 384 << 10, 128 << 10));
    Files.write(served.resolve("broken.overlay"), new byte[100]); // skipped, with a warning
    server = OverlayServer.start(ServerOptions.of(served).withBind("127.0.0.1", 0));
    assertEquals(2, server.overlayCount());
    assertTrue(big.manifest().segments().size() > 100, "segments: " + big.manifest().segments().size());
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (server != null) {
      server.close();
    }
    big.close();
    small.close();
    assertEquals(List.of(), LeakWatch.leaks(), "netty buffers leaked");
  }

  private static String url(OverlayServer s, String name) {
    return "es://127.0.0.1:" + s.port() + "/" + name;
  }

  private static int[] all(OverlayFile f) {
    return IntStream.range(0, f.manifest().segments().size()).toArray();
  }

  private static void assertSegmentsEqual(OverlayFile f, Collector c) throws IOException {
    for (Segment s : f.manifest().segments()) {
      assertArrayEquals(f.readSegment(s), c.frames.get(s.index()), s.toString());
    }
  }

  @Test
  void streamsEverySegmentByNameAndById() throws Exception {
    for (String name : List.of("big.overlay", "big", big.id(), big.id().toUpperCase())) {
      try (SegmentSource src = Sources.open(url(server, name))) {
        Collector c = new Collector();
        try (SegmentSource.Session session = src.open(c, TIMEOUT)) {
          assertEquals(big.id(), session.head().id());
          assertEquals(big.manifest().segments(), session.head().manifest().segments());
          session.stream(all(big));
          c.awaitAll(big.manifest().segments().size(), 20);
        }
        assertSegmentsEqual(big, c);
      }
    }
  }

  @Test
  void demandPreemptsTheStream() throws Exception {
    try (OverlayServer slow = OverlayServer.start(ServerOptions.of(served).withBind("127.0.0.1", 0)
        .withRate(2_000_000));
        SegmentSource src = Sources.open(url(slow, "big"))) {
      Collector c = new Collector();
      try (SegmentSource.Session session = src.open(c, TIMEOUT)) {
        int last = big.manifest().segments().size() - 1;
        session.stream(all(big));
        c.awaitArrivals(8, 10); // past the initial burst, the stream runs at the rate limit
        int before = c.order().size();
        session.demand(last);
        c.awaitSegment(last, 10);
        List<Integer> order = c.order();
        int at = order.indexOf(last);
        assertTrue(at - before <= 3, "demanded segment arrived after " + (at - before)
            + " more stream segments: " + order);
        assertArrayEquals(big.readSegment(big.manifest().segments().get(last)), c.frames.get(last));
      }
    }
  }

  @Test
  void rateLimitHoldsTheLink() throws Exception {
    long rate = 800_000;
    long bytes = Files.size(small.path());
    try (OverlayServer limited = OverlayServer.start(ServerOptions.of(served).withBind("127.0.0.1", 0)
        .withRate(rate));
        SegmentSource src = Sources.open(url(limited, "small"))) {
      Collector c = new Collector();
      long t0 = System.nanoTime();
      try (SegmentSource.Session session = src.open(c, TIMEOUT)) {
        session.stream(all(small));
        c.awaitAll(small.manifest().segments().size(), 20);
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      // the bucket starts empty: the first part goes out on credit, and at most one more part's worth can
      // accrue between the server's start and the client's first request
      double least = (bytes - 2 * ((64 << 10) + 64)) / (double) rate;
      assertTrue(least > 0.1, "overlay too small for this test: " + bytes);
      assertTrue(seconds >= 0.9 * least, bytes + " bytes in " + seconds + " s at " + rate + " B/s");
      assertSegmentsEqual(small, c);
    }
  }

  @Test
  void delayAddsLatencyBothWaysAndKeepsOrder() throws Exception {
    try (OverlayServer far = OverlayServer.start(ServerOptions.of(served).withBind("127.0.0.1", 0)
        .withDelay(Duration.ofMillis(40)));
        SegmentSource src = Sources.open(url(far, "small"))) {
      Collector c = new Collector();
      long t0 = System.nanoTime();
      try (SegmentSource.Session session = src.open(c, TIMEOUT)) {
        long openMillis = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(openMillis >= 80, "open took " + openMillis + " ms, less than one 80 ms round trip");
        session.stream(all(small));
        c.awaitAll(small.manifest().segments().size(), 20);
      }
      assertSegmentsEqual(small, c);
    }
  }

  @Test
  void malformedInputClosesOnlyThatConnection() throws Exception {
    try (SegmentSource src = Sources.open(url(server, "big"))) {
      Collector good = new Collector();
      try (SegmentSource.Session session = src.open(good, TIMEOUT)) {
        session.stream(all(big));

        byte[] noise = new byte[100_000];
        new Random(1).nextBytes(noise);
        assertClosedWith(Frame.Error.BAD_REQUEST, noise);
        assertClosedWith(Frame.Error.BAD_REQUEST, frame(0x7fff_fff0, Frame.HELLO, new byte[0]));
        assertClosedWith(Frame.Error.BAD_REQUEST, frame(Frame.HELLO, hello(0x12345678, 1, 1)));
        assertClosedWith(Frame.Error.UNSUPPORTED_VERSION, frame(Frame.HELLO, hello(Frame.MAGIC, 2, 3)));
        assertClosedWith(Frame.Error.BAD_REQUEST, frame(Frame.DEMAND, new byte[4]));
        assertClosedWith(Frame.Error.BAD_REQUEST, concat(frame(Frame.HELLO, hello(Frame.MAGIC, 1, 1)),
            frame(Frame.OPEN, "big".getBytes()), frame(Frame.DEMAND, ByteBuffer.allocate(4).putInt(1 << 30).array())));
        assertClosedWith(Frame.Error.BAD_REQUEST, concat(frame(Frame.HELLO, hello(Frame.MAGIC, 1, 1)),
            frame(Frame.OPEN, "big".getBytes()), frame(Frame.PART, new byte[8])));

        good.awaitAll(big.manifest().segments().size(), 20);
      }
      assertSegmentsEqual(big, good);
    }
  }

  @Test
  void idleConnectionsAreClosed() throws Exception {
    try (OverlayServer strict = OverlayServer.start(ServerOptions.of(served).withBind("127.0.0.1", 0)
        .withIdleTimeout(Duration.ofMillis(300)))) {
      assertClosedWith(strict, Frame.Error.TIMEOUT, new byte[0]);
    }
  }

  @Test
  void fiftyConcurrentClients() throws Exception {
    int clients = 50;
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try (SegmentSource src = Sources.open(url(server, "small"))) {
      List<Future<Collector>> futures = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        futures.add(pool.submit(() -> {
          Collector c = new Collector();
          try (SegmentSource.Session session = src.open(c, TIMEOUT)) {
            session.stream(all(small));
            c.awaitAll(small.manifest().segments().size(), 30);
          }
          return c;
        }));
      }
      for (Future<Collector> f : futures) {
        assertSegmentsEqual(small, f.get());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void unknownOverlayIsNotFound() throws Exception {
    try (SegmentSource src = Sources.open(url(server, "nothing-here"))) {
      IOException e = assertThrows(IOException.class, () -> src.open(new Collector(), TIMEOUT));
      assertTrue(e.getMessage().contains("not found"), e.getMessage());
      assertTrue(e.getMessage().contains("es://127.0.0.1:" + server.port() + "/nothing-here"), e.getMessage());
    }
  }

  @Test
  void silentServerTimesOutAndBadSpecsAreRefused() throws Exception {
    try (ServerSocket silent = new ServerSocket(0);
        SegmentSource src = Sources.open("es://127.0.0.1:" + silent.getLocalPort() + "/x")) {
      IOException e = assertThrows(IOException.class, () -> src.open(new Collector(), Duration.ofMillis(300)));
      assertTrue(e.getMessage().contains("did not answer within 300 ms"), e.getMessage());
    }
    int closedPort;
    try (ServerSocket gone = new ServerSocket(0)) {
      closedPort = gone.getLocalPort();
    }
    try (SegmentSource src = Sources.open("es://127.0.0.1:" + closedPort + "/x")) {
      IOException e = assertThrows(IOException.class, () -> src.open(new Collector(), TIMEOUT));
      assertTrue(e.getMessage().contains("cannot connect"), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sources.open("ftp://h/x"));
    assertTrue(e.getMessage().contains("unsupported source"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Sources.open("es://host:1/"));
    ProtocolSource p = ProtocolSource.parse("es://example.org/app.overlay");
    try (p) {
      assertEquals("es://example.org:8021/app.overlay", p.describe());
    }
  }

  @Test
  void clientRejectsACorruptHeadAndMisplacedParts() throws Exception {
    byte[] garbage = new byte[100];
    byte[] corrupt = concat(frame(Frame.WELCOME, ByteBuffer.allocate(6).putShort((short) 1).putInt(Frame.MAX_LENGTH)
        .array()), frame(Frame.META, concat(ByteBuffer.allocate(8).putInt(100).putInt(0).array(), garbage)));
    try (FakeServer fake = new FakeServer(corrupt);
        SegmentSource src = Sources.open("es://127.0.0.1:" + fake.port() + "/x")) {
      assertThrows(CorruptOverlayException.class, () -> src.open(new Collector(), TIMEOUT));
    }
    byte[] head = new byte[Math.toIntExact(big.header().dataStart())];
    try (var ch = java.nio.channels.FileChannel.open(big.path())) {
      ch.read(ByteBuffer.wrap(head), 0);
    }
    byte[] misplaced = concat(frame(Frame.WELCOME, ByteBuffer.allocate(6).putShort((short) 1)
        .putInt(Frame.MAX_LENGTH).array()), metaFrames(head),
        frame(Frame.PART, concat(ByteBuffer.allocate(8).putInt(0).putInt(5).array(), new byte[10])));
    try (FakeServer fake = new FakeServer(misplaced);
        SegmentSource src = Sources.open("es://127.0.0.1:" + fake.port() + "/x")) {
      Collector c = new Collector();
      try (SegmentSource.Session session = src.open(c, TIMEOUT)) {
        session.stream(new int[] {0});
        assertThrows(AssertionError.class, () -> c.awaitAll(1, 10)); // the sink was told it failed
        assertTrue(String.valueOf(c.failure()).contains("protocol error"), String.valueOf(c.failure()));
      }
    }
  }

  private static byte[] metaFrames(byte[] head) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int off = 0; off < head.length; off += Frame.MAX_PART) {
      int n = Math.min(Frame.MAX_PART, head.length - off);
      byte[] body = ByteBuffer.allocate(8 + n).putInt(head.length).putInt(off).put(head, off, n).array();
      out.writeBytes(frame(Frame.META, body));
    }
    return out.toByteArray();
  }

  /** Accepts one connection, sends canned bytes, then keeps it open until closed. */
  private static final class FakeServer implements AutoCloseable {
    private final ServerSocket listener = new ServerSocket(0);
    private final Thread thread;
    private volatile Socket socket;

    FakeServer(byte[] answer) throws IOException {
      thread = new Thread(() -> {
        try {
          socket = listener.accept();
          socket.getOutputStream().write(answer);
          socket.getInputStream().readAllBytes();
        } catch (IOException e) {
          // closed
        }
      }, "fake-server");
      thread.setDaemon(true);
      thread.start();
    }

    int port() {
      return listener.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      listener.close();
      if (socket != null) {
        socket.close();
      }
      try {
        thread.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  // ---- raw frames ------------------------------------------------------------------------------

  private static byte[] hello(int magic, int min, int max) {
    return ByteBuffer.allocate(8).putInt(magic).putShort((short) min).putShort((short) max).array();
  }

  private static byte[] frame(int type, byte[] body) {
    return frame(1 + body.length, type, body);
  }

  private static byte[] frame(int length, int type, byte[] body) {
    return ByteBuffer.allocate(5 + body.length).putInt(length).put((byte) type).put(body).array();
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  /** Sends {@code bytes} on a new connection and expects the server's last frame to be ERROR(code), then EOF. */
  private static void assertClosedWith(int code, byte[] bytes) throws IOException {
    assertClosedWith(server, code, bytes);
  }

  private static void assertClosedWith(OverlayServer target, int code, byte[] bytes) throws IOException {
    try (Socket s = new Socket("127.0.0.1", target.port())) {
      s.setSoTimeout(5000);
      try {
        new DataOutputStream(s.getOutputStream()).write(bytes);
      } catch (IOException e) {
        // the server may close while we still write; what it sent before is still readable
      }
      InputStream in = s.getInputStream();
      DataInputStream data = new DataInputStream(in);
      int lastType = -1;
      int lastCode = -1;
      while (true) {
        int length;
        try {
          length = data.readInt();
        } catch (java.io.EOFException eof) {
          break;
        }
        byte[] body = data.readNBytes(length);
        lastType = body[0] & 0xff;
        if (lastType == Frame.ERROR) {
          lastCode = ((body[1] & 0xff) << 8) | (body[2] & 0xff);
        }
      }
      assertEquals(Frame.ERROR, lastType, "last frame type");
      assertEquals(code, lastCode, "error code");
    }
  }
}
