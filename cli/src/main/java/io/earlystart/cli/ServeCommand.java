package io.earlystart.cli;

import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.fetcher.server.ServerOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code earlystart serve}: serves the overlays of a directory over the earlystart protocol until stopped. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = {"Serve every *.overlay in DIR over the earlystart protocol (es://HOST:PORT/NAME) until "
        + "SIGINT or SIGTERM.",
        "--rate and --delay emulate a WiFi or WAN link for benchmarks: one shared rate limit for all clients, "
            + "and a one-way delay added in both directions (the round trip grows by twice it)."})
final class ServeCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "DIR", description = "Directory of .overlay files.")
  Path dir;

  @Option(names = "--bind", paramLabel = "ADDRESS", defaultValue = ServerOptions.DEFAULT_BIND,
      description = "Address to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 for all).")
  String bind;

  @Option(names = "--port", paramLabel = "PORT", defaultValue = "" + ServerOptions.DEFAULT_PORT,
      description = "TCP port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
  int port;

  @Option(names = "--rate", paramLabel = "RATE", converter = RateConverter.class, defaultValue = "0",
      description = "Total send rate, e.g. 38mbit, 1gbit, 10MB (bytes/s); decimal prefixes; 0 = unlimited "
          + "(default).")
  long rate;

  @Option(names = "--delay", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "0",
      description = "One-way delay added in each direction, e.g. 10ms, 250us (default: none).")
  Duration delay;

  @Option(names = "--idle-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
      defaultValue = "60s", description = "Close connections idle this long (default: ${DEFAULT-VALUE}).")
  Duration idleTimeout;

  @Override
  public Integer call() throws Exception {
    ServerOptions options = new ServerOptions(dir, bind, port, rate, delay, idleTimeout);
    OverlayServer server = OverlayServer.start(options);
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      server.close();
      stopped.countDown();
    }, "earlystart-serve-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    var out = spec.commandLine().getOut();
    out.printf("serving %d overlay%s from %s on %s:%d%n", server.overlayCount(), server.overlayCount() == 1 ? "" : "s",
        dir, server.host(), server.port());
    out.flush();
    stopped.await();
    return 0;
  }
}
