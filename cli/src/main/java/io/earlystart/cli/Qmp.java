package io.earlystart.cli;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
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
  private final SocketChannel channel;
  private final java.nio.channels.Selector selector;
  private final String path;
  private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
  private final ByteBuffer in = ByteBuffer.allocate(64 << 10);

  /** {@code channel}, connected, becomes non-blocking and is read through one selector for its life. */
  private Qmp(SocketChannel channel, String path) throws IOException {
    this.channel = channel;
    this.path = path;
    channel.configureBlocking(false);
    this.selector = java.nio.channels.Selector.open();
    channel.register(selector, java.nio.channels.SelectionKey.OP_READ);
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
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
          ch.connect(UnixDomainSocketAddress.of(socket));
          Qmp q = new Qmp(ch, socket.toString());
          try {
            q.readMessage(Math.max(1, (end - System.nanoTime()) / 1_000_000)); // greeting
            q.execute("qmp_capabilities", null, Duration.ofSeconds(10));
            return q;
          } catch (IOException e) {
            q.close();
            throw e;
          }
        } catch (IOException e) {
          ch.close();
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
    String msg = "{\"execute\": \"" + command + "\"" + (argumentsJson != null ? ", \"arguments\": " + argumentsJson : "")
        + "}\n";
    ByteBuffer out = ByteBuffer.wrap(msg.getBytes(StandardCharsets.UTF_8));
    while (out.hasRemaining()) {
      channel.write(out);
    }
    long end = System.nanoTime() + deadline.toNanos();
    while (true) {
      String reply = readMessage(Math.max(1, (end - System.nanoTime()) / 1_000_000));
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

  /** One line (QMP sends one JSON object per line), within {@code millis}. */
  private String readMessage(long millis) throws IOException {
    long end = System.nanoTime() + millis * 1_000_000L;
    while (true) {
      byte[] buf = pending.toByteArray();
      for (int i = 0; i < buf.length; i++) {
        if (buf[i] == '\n') {
          String line = new String(buf, 0, i, StandardCharsets.UTF_8).strip();
          pending.reset();
          pending.write(buf, i + 1, buf.length - i - 1);
          if (!line.isEmpty()) {
            return line;
          }
          buf = pending.toByteArray();
          i = -1;
        }
      }
      long left = (end - System.nanoTime()) / 1_000_000;
      if (left <= 0) {
        throw new IOException("no QMP answer on " + path + " in time");
      }
      selector.select(left);
      selector.selectedKeys().clear();
      in.clear();
      int n = channel.read(in);
      if (n < 0) {
        throw new IOException("QEMU closed its QMP socket " + path);
      }
      pending.write(in.array(), 0, n);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      selector.close();
    } finally {
      channel.close();
    }
  }
}
