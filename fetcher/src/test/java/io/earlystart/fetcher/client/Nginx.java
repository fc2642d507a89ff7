package io.earlystart.fetcher.client;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real nginx serving {@code root} on 127.0.0.1 and a free port, in the foreground, with its config,
 * logs, pid and temp files in {@code work}. Close it to stop it.
 */
public final class Nginx implements AutoCloseable {
  static final Path BINARY = Path.of("/usr/sbin/nginx");
  private static final long START_MILLIS = 10_000;
  /** Temp paths nginx may create at start-up (as {@code nginx -V} lists them), with their directives. */
  private static final Map<String, String> TEMP_PATHS = Map.of(
      "--http-client-body-temp-path", "client_body_temp_path",
      "--http-proxy-temp-path", "proxy_temp_path",
      "--http-fastcgi-temp-path", "fastcgi_temp_path",
      "--http-uwsgi-temp-path", "uwsgi_temp_path",
      "--http-scgi-temp-path", "scgi_temp_path");

  private final Process process;
  private final int port;
  private final Path work;

  private Nginx(Process process, int port, Path work) {
    this.process = process;
    this.port = port;
    this.work = work;
  }

  /** Skips the calling test when nginx is not installed, except under CI ({@code CI=true}), where it fails. */
  public static void assumeInstalled() {
    if (Files.isExecutable(BINARY)) {
      return;
    }
    String msg = BINARY + " is missing: install nginx-light (scripts/packages.txt) to run the HTTP Range tests";
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(msg);
    }
    Assumptions.abort(msg);
  }

  public static Nginx start(Path root, Path work) throws IOException, InterruptedException {
    assumeInstalled();
    Files.createDirectories(work);
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    StringBuilder temps = new StringBuilder();
    String built = new String(new ProcessBuilder(BINARY.toString(), "-V").redirectErrorStream(true).start()
        .getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    for (Map.Entry<String, String> e : TEMP_PATHS.entrySet()) {
      if (built.contains(e.getKey() + "=")) {
        temps.append("  ").append(e.getValue()).append(' ').append(work.resolve(e.getValue())).append(";\n");
      }
    }
    String conf = "daemon off;\n"
        + "master_process off;\n"
        + "pid " + work.resolve("nginx.pid") + ";\n"
        + "error_log " + work.resolve("error.log") + " info;\n"
        + "events {}\n"
        + "http {\n"
        + "  access_log " + work.resolve("access.log") + ";\n"
        + temps
        + "  server {\n"
        + "    listen 127.0.0.1:" + port + ";\n"
        + "    root " + root.toAbsolutePath() + ";\n"
        + "  }\n"
        + "}\n";
    Path confFile = work.resolve("nginx.conf");
    Files.writeString(confFile, conf);
    Process p = new ProcessBuilder(List.of(BINARY.toString(), "-p", work.toString(), "-c", confFile.toString()))
        .redirectErrorStream(true)
        .redirectOutput(work.resolve("stdout.log").toFile())
        .start();
    Nginx n = new Nginx(p, port, work);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_MILLIS);
    while (true) {
      if (!p.isAlive()) {
        throw new IOException("nginx exited with " + p.exitValue() + ": " + n.logs());
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return n;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) {
          n.close();
          throw new IOException("nginx did not accept connections on port " + port + " within " + START_MILLIS
              + " ms: " + n.logs());
        }
        Thread.sleep(20);
      }
    }
  }

  public URI uri(String name) {
    return URI.create("http://127.0.0.1:" + port + "/" + name);
  }

  /** The access log's lines so far (nginx writes it unbuffered). */
  List<String> accessLog() throws IOException {
    Path log = work.resolve("access.log");
    return Files.exists(log) ? Files.readAllLines(log) : List.of();
  }

  String logs() {
    StringBuilder b = new StringBuilder();
    for (String f : new String[] {"stdout.log", "error.log"}) {
      try {
        b.append('\n').append(f).append(":\n").append(Files.readString(work.resolve(f)));
      } catch (IOException e) {
        b.append('\n').append(f).append(": ").append(e);
      }
    }
    return b.toString();
  }

  @Override
  public void close() {
    process.destroy(); // SIGTERM: fast shutdown
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
