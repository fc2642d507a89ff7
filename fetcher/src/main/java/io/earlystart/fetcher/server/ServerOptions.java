package io.earlystart.fetcher.server;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How {@link OverlayServer} runs. Immutable.
 *
 * @param dir directory whose {@code *.overlay} files are served
 * @param bindAddress address to listen on (a host name or literal IP)
 * @param port TCP port; 0 picks a free one ({@link OverlayServer#port()} tells which)
 * @param rateBytesPerSecond total send rate of the server over all connections (one token bucket, to
 *     emulate one WiFi or WAN link); 0 = unlimited
 * @param delay one-way latency added in both directions (0 = none); the round trip grows by twice it
 * @param idleTimeout a connection that neither sends nor receives for this long is closed
 */
public record ServerOptions(Path dir, String bindAddress, int port, long rateBytesPerSecond, Duration delay,
    Duration idleTimeout) {

  public static final String DEFAULT_BIND = "127.0.0.1";
  public static final int DEFAULT_PORT = 8021;
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);

  public ServerOptions {
    Objects.requireNonNull(dir, "dir");
    Objects.requireNonNull(bindAddress, "bindAddress");
    Objects.requireNonNull(delay, "delay");
    Objects.requireNonNull(idleTimeout, "idleTimeout");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be between 0 and 65535, not " + port);
    }
    if (rateBytesPerSecond < 0) {
      throw new IllegalArgumentException("rate must not be negative");
    }
    if (delay.isNegative()) {
      throw new IllegalArgumentException("delay must not be negative");
    }
    if (idleTimeout.isNegative() || idleTimeout.isZero()) {
      throw new IllegalArgumentException("idle timeout must be positive");
    }
  }

  /** {@code dir} on 127.0.0.1:8021, unlimited rate, no added delay, 60 s idle timeout. */
  public static ServerOptions of(Path dir) {
    return new ServerOptions(dir, DEFAULT_BIND, DEFAULT_PORT, 0, Duration.ZERO, DEFAULT_IDLE_TIMEOUT);
  }

  public ServerOptions withBind(String address, int p) {
    return new ServerOptions(dir, address, p, rateBytesPerSecond, delay, idleTimeout);
  }

  public ServerOptions withRate(long bytesPerSecond) {
    return new ServerOptions(dir, bindAddress, port, bytesPerSecond, delay, idleTimeout);
  }

  public ServerOptions withDelay(Duration oneWay) {
    return new ServerOptions(dir, bindAddress, port, rateBytesPerSecond, oneWay, idleTimeout);
  }

  public ServerOptions withIdleTimeout(Duration timeout) {
    return new ServerOptions(dir, bindAddress, port, rateBytesPerSecond, delay, timeout);
  }
}
