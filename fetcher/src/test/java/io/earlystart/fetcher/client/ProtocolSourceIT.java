package io.earlystart.fetcher.client;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.fetcher.server.ServerOptions;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The {@link SegmentSource} contract for {@link ProtocolSource} against a real {@link OverlayServer} on
 * loopback. The server serves {@code *.overlay}, so the fixture's files are copied under that name.
 */
class ProtocolSourceIT extends SegmentSourceContract {
  static OverlayServer server;

  @BeforeAll
  static void startServer() throws IOException {
    Path served = Files.createDirectories(dir.resolve("served"));
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.esov")) {
      for (Path f : ds) {
        String name = f.getFileName().toString();
        Files.copy(f, served.resolve(name.substring(0, name.length() - ".esov".length()) + ".overlay"));
      }
    }
    server = OverlayServer.start(ServerOptions.of(served).withBind("127.0.0.1", 0));
  }

  @AfterAll
  static void stopServer() {
    if (server != null) {
      server.close();
    }
  }

  @Override
  SegmentSource source(String name) {
    String served = name.equals(MISSING) ? name : name.substring(0, name.length() - ".esov".length());
    return ProtocolSource.parse("es://127.0.0.1:" + server.port() + "/" + served);
  }

  @Override
  void checkPreempted(List<Integer> order, int demanded) {
    int at = order.indexOf(demanded);
    // demanded when segment 0 arrived: at most the parts already in the socket buffers come first
    assertTrue(at < order.size() - 1, "demanded segment came last: " + order);
  }

  /** The server verifies overlays when it starts and does not serve bad ones: they are not found. */
  @Test
  @Override
  void truncatedOverlayIsCorrupt() throws IOException {
    assertNotServed(TRUNCATED);
  }

  /** As {@link #truncatedOverlayIsCorrupt}: a client-side corrupt head is tested in OverlayServerIT. */
  @Test
  @Override
  void corruptManifestIsCorrupt() throws IOException {
    assertNotServed(CORRUPT);
  }

  private void assertNotServed(String name) throws IOException {
    try (SegmentSource src = source(name)) {
      IOException e = assertThrows(IOException.class, () -> src.open(new Recorder(), TIMEOUT));
      assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }
  }
}
