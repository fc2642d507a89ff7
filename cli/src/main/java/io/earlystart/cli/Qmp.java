package io.earlystart.cli;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A small QEMU Machine Protocol client over QEMU's Unix socket ({@code -qmp unix:PATH,server=on,wait=off}):
 * connects (retrying until QEMU has made the socket), reads the greeting, negotiates capabilities, then
 * runs one command at a time. Event lines ({@code {"event": ...}}) are skipped. Every call has a
 * deadline. Not thread-safe; one owner.
 */
final class Qmp implements Closeable {
  private final JsonLines lines;
  private final String path;

  private Qmp(JsonLines lines, String path) {
    this.lines = lines;
    this.path = path;
  }

  /** QEMU's {@code exec:} migration address that runs {@code command} on {@code file} (single-quoted for sh). */
  static String execUri(String command, Path file) {
    return "exec:" + command + " '" + file.toString().replace("'", "'\\''") + "'";
  }

  /**
   * Connects to {@code socket} within {@code deadline}, while {@code alive} says QEMU still runs, and
   * leaves capabilities-negotiation mode.
   */
  public static Qmp connect(Path socket, Duration deadline, java.util.function.BooleanSupplier alive)
      throws IOException, InterruptedException {
    long end = System.nanoTime() + deadline.toNanos();
    IOException last = null;
    while (System.nanoTime() - end < 0) {
      if (!alive.getAsBoolean()) {
        throw new IOException("QEMU exited before its QMP socket " + socket + " answered");
      }
      if (Files.exists(socket)) {
        try {
          Qmp q = new Qmp(JsonLines.connect(socket, "QEMU closed its QMP socket " + socket), socket.toString());
          try {
            q.lines.readLine(end, "no QMP answer on " + socket + " in time"); // greeting
            q.execute("qmp_capabilities", null, Duration.ofSeconds(10));
            return q;
          } catch (IOException e) {
            q.close();
            throw e;
          }
        } catch (IOException e) {
          last = e;
        }
      }
      Thread.sleep(10);
    }
    throw new IOException("no QMP answer on " + socket + " within " + deadline.toMillis() + " ms"
        + (last != null ? ": " + last.getMessage() : ""));
  }

  /**
   * Runs {@code command} with {@code argumentsJson} (a JSON object, or null) and returns the value of QEMU's
   * {@code "return"} (parsed as {@link Json#parse} does: a Map, List, String, Double, Boolean or null).
   *
   * @throws IOException QEMU answered with an error (its class and description), or no answer in time
   */
  public Object execute(String command, String argumentsJson, Duration deadline) throws IOException {
    lines.send("{\"execute\": \"" + command + "\"" + (argumentsJson != null ? ", \"arguments\": " + argumentsJson : "")
        + "}");
    long end = System.nanoTime() + deadline.toNanos();
    while (true) {
      String reply = lines.readLine(end, "no QMP answer on " + path + " in time");
      Object parsed;
      try {
        parsed = Json.parse(reply);
      } catch (IllegalArgumentException e) {
        throw new IOException("QEMU sent something that is not JSON on " + path + ": " + reply);
      }
      if (!(parsed instanceof java.util.Map<?, ?> m)) {
        throw new IOException("unexpected QMP reply to " + command + ": " + reply);
      }
      if (m.containsKey("return")) {
        return m.get("return");
      }
      if (m.get("error") instanceof java.util.Map<?, ?> e) {
        throw new IOException("QEMU refused " + command + ": " + e.get("desc"));
      }
      // an event (or anything else that is not our answer): skip it
    }
  }

  @Override
  public void close() throws IOException {
    lines.close();
  }
}
