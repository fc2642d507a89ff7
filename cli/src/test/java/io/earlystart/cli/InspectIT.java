package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.cli.CliTest.Run;
import io.earlystart.cli.example.ExampleImages;
import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.fetcher.server.ServerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code earlystart inspect} of an overlay that {@code serve} serves: the same report as of the file. */
@Timeout(60)
class InspectIT {
  @TempDir Path dir;

  @Test
  void aServedOverlayReportsAsItsFileDoesAndVerifies() throws Exception {
    ExampleImages.Result images = ExampleImages.generate(dir.resolve("images"),
        new ExampleImages.Spec(5, 16 << 20, 8 << 20));
    Path served = Files.createDirectory(dir.resolve("served"));
    Path overlay = served.resolve("app.overlay");
    CliTest.create(images, overlay, "-q", "--segment-size", "64KiB");
    Run file = CliTest.run("inspect", overlay.toString());
    assertEquals(0, file.code(), file.err());
    try (OverlayServer server = OverlayServer.start(ServerOptions.of(served).withBind("127.0.0.1", 0))) {
      String source = "es://127.0.0.1:" + server.port() + "/app.overlay";
      Run remote = CliTest.run("inspect", source);
      assertEquals(0, remote.code(), remote.err());
      assertEquals(file.out().replace(overlay.toString(), source), remote.out());
      assertEquals(0, java.util.Arrays.stream(server.segmentsSent("app.overlay")).sum(), "the head is enough");

      Run verified = CliTest.run("inspect", "--verify", source);
      assertEquals(0, verified.code(), verified.err());
      assertTrue(verified.out().contains("every SHA-256 matches"), verified.out());

      Run missing = CliTest.run("inspect", "es://127.0.0.1:" + server.port() + "/nope.overlay");
      assertEquals(Errors.EXIT_ERROR, missing.code(), missing.out() + missing.err());
      // the in-process server logs to the same stderr: the CLI's own words are its one "earlystart:" line
      assertEquals(java.util.List.of("earlystart: es://127.0.0.1:" + server.port() + "/nope.overlay: overlay not found"),
          missing.err().lines().filter(l -> l.startsWith("earlystart:")).toList(), missing.err());
    }
  }
}
