package io.earlystart.fetcher;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.fetcher.client.Nginx;
import io.earlystart.fetcher.client.Sources;
import io.earlystart.fetcher.net.FaultyProxy;
import io.earlystart.fetcher.net.FaultyProxy.Fault;
import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.fetcher.server.ServerOptions;
import io.earlystart.overlay.io.Progress;
import io.earlystart.overlay.synthesize.Synthesizer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Full synthesis from every kind of source, over real sockets: our server, real nginx, and a proxy
 * that damages the stream; the result is always the customised images byte for byte, or a clear error.
 */
class SynthesizeFromSourcesIT {
  @TempDir
  static Path dir;
  static Path overlay;

  static final SchedulerOptions OPTIONS = SchedulerOptions.DEFAULTS.withWindowBytes(256 << 10)
      .withBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).withGiveUpAfter(Duration.ofSeconds(20));

  @BeforeAll
  static void overlay() throws Exception {
    Path served = dir.resolve("served");
    Files.createDirectories(served);
    overlay = TestOverlays.make(dir, 11, 800, 16 << 10);
    Files.copy(overlay, served.resolve("app.overlay"));
  }

  static void synthesizeFrom(String spec, Path out) throws Exception {
    try (ScheduledOverlayReader r = new ScheduledOverlayReader(Sources.open(spec), OPTIONS, Duration.ofSeconds(20))) {
      Synthesizer.synthesize(r, dir.resolve("base-disk.img"), dir.resolve("base-memory.img"), out, 2, false,
          Progress.NONE);
    }
    assertArrayEquals(Files.readAllBytes(dir.resolve("disk.img")), Files.readAllBytes(out.resolve("disk.img")));
    assertArrayEquals(Files.readAllBytes(dir.resolve("memory.img")), Files.readAllBytes(out.resolve("memory.img")));
    assertArrayEquals(Files.readAllBytes(dir.resolve("vmstate")), Files.readAllBytes(out.resolve("vmstate")));
  }

  static OverlayServer serve(int port, long rate) throws IOException {
    return OverlayServer.start(ServerOptions.of(dir.resolve("served")).withBind("127.0.0.1", port).withRate(rate));
  }

  @Test
  void fromOurServer() throws Exception {
    try (OverlayServer server = serve(0, 0)) {
      synthesizeFrom("es://127.0.0.1:" + server.port() + "/app", dir.resolve("out-es"));
    }
  }

  @Test
  void fromNginx() throws Exception {
    try (Nginx nginx = Nginx.start(dir.resolve("served"), dir.resolve("nginx"))) {
      synthesizeFrom(nginx.uri("app.overlay").toString(), dir.resolve("out-http"));
    }
  }

  @Test
  void fromAFile() throws Exception {
    synthesizeFrom("file:" + overlay.toAbsolutePath(), dir.resolve("out-file"));
  }

  @Test
  void serverKilledAndRestartedMidStream() throws Exception {
    OverlayServer first = serve(0, 128 << 10); // about 4 s for the whole overlay (~550 KB)
    int port = first.port();
    CompletableFuture<Void> run = CompletableFuture.runAsync(() -> {
      try {
        synthesizeFrom("es://127.0.0.1:" + port + "/app", dir.resolve("out-restart"));
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    Thread.sleep(800);
    assertTrue(!run.isDone(), "finished before the server was killed: make the overlay larger");
    first.close();
    Thread.sleep(300);
    try (OverlayServer second = serve(port, 0)) {
      run.get(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void damagedStreamsAreDetectedAndFetchedAgain() throws Exception {
    try (OverlayServer server = serve(0, 0);
        FaultyProxy proxy = new FaultyProxy(new InetSocketAddress("127.0.0.1", server.port()))) {
      long len = Files.size(overlay);
      // connection 0 is cut a third of the way in; connection 1 (the reconnect) gets a byte flipped inside
      // the segments it still needs, which verification catches and fetches again
      proxy.plan(Fault.cut(len / 3), Fault.flip(len / 4));
      synthesizeFrom("es://127.0.0.1:" + proxy.port() + "/app", dir.resolve("out-proxy"));
      assertTrue(proxy.connections() >= 2, "the damage never cost a connection: " + proxy.connections());
    }
  }

  @Test
  void aStalledStreamResumesWithoutWrongBytes() throws Exception {
    try (OverlayServer server = serve(0, 0);
        FaultyProxy proxy = new FaultyProxy(new InetSocketAddress("127.0.0.1", server.port()))) {
      long len = Files.size(overlay);
      proxy.plan(Fault.stall(len / 2, 700));
      long t = System.nanoTime();
      synthesizeFrom("es://127.0.0.1:" + proxy.port() + "/app", dir.resolve("out-stall"));
      assertTrue(System.nanoTime() - t >= TimeUnit.MILLISECONDS.toNanos(600), "the stall never happened");
    }
  }
}
