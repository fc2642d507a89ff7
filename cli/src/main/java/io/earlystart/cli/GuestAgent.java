package io.earlystart.cli;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A client of the QEMU guest agent (qemu-ga in the guest, reached through the host end of its
 * virtio-serial port {@code org.qemu.guest_agent.0}, a Unix socket QEMU listens on). The agent has no
 * greeting and may hold stale bytes from an earlier client, so every session starts with
 * {@code guest-sync-delimited}: the agent answers with a 0xFF byte, then the id it was given; what came
 * before is dropped. Every call has a deadline (an agent that is not running in the guest never answers).
 * Not thread-safe; one owner.
 */
final class GuestAgent implements Closeable {
  /** The virtio-serial port name qemu-ga opens in the guest. */
  static final String PORT_NAME = "org.qemu.guest_agent.0";

  private final SocketChannel channel;
  private final Selector selector;
  private final Path socket;
  private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
  private final ByteBuffer in = ByteBuffer.allocate(16 << 10);

  private GuestAgent(SocketChannel channel, Path socket) throws IOException {
    this.channel = channel;
    this.socket = socket;
    channel.configureBlocking(false);
    selector = Selector.open();
    channel.register(selector, SelectionKey.OP_READ);
  }

  /** Connects to the agent behind {@code socket} and synchronises with it within {@code deadline}. */
  static GuestAgent connect(Path socket, Duration deadline) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    GuestAgent a;
    try {
      ch.connect(UnixDomainSocketAddress.of(socket));
      a = new GuestAgent(ch, socket);
    } catch (IOException e) {
      ch.close();
      throw new IOException("cannot connect to the guest agent's socket " + socket + ": " + e.getMessage(), e);
    }
    try {
      a.sync(deadline);
      return a;
    } catch (IOException e) {
      a.close();
      throw e;
    }
  }

  private void sync(Duration deadline) throws IOException {
    long id = System.nanoTime() & 0x7fffffffL;
    send("{\"execute\": \"guest-sync-delimited\", \"arguments\": {\"id\": " + id + "}}");
    long end = System.nanoTime() + deadline.toNanos();
    // everything up to the agent's 0xFF is left over from someone else's session
    while (true) {
      byte[] buf = pending.toByteArray();
      int ff = -1;
      for (int i = 0; i < buf.length && ff < 0; i++) {
        if (buf[i] == (byte) 0xFF) {
          ff = i;
        }
      }
      if (ff >= 0) {
        pending.reset();
        pending.write(buf, ff + 1, buf.length - ff - 1);
        break;
      }
      fill(end, deadline);
    }
    while (true) {
      Object r = reply(end, deadline);
      if (r instanceof Double d && d.longValue() == id) {
        return;
      }
    }
  }

  /**
   * {@code guest-fstrim}: the agent trims every mounted file system in the guest. The result lists each
   * one's path and the bytes trimmed, or its error.
   */
  @SuppressWarnings("unchecked")
  List<Map<String, Object>> fstrim(Duration deadline) throws IOException {
    send("{\"execute\": \"guest-fstrim\"}");
    long end = System.nanoTime() + deadline.toNanos();
    Object r = reply(end, deadline);
    if (r instanceof Map<?, ?> m && m.get("paths") instanceof List<?> paths) {
      return (List<Map<String, Object>>) paths;
    }
    throw new IOException("unexpected answer to guest-fstrim from the guest agent on " + socket);
  }

  private void send(String json) throws IOException {
    ByteBuffer out = ByteBuffer.wrap((json + "\n").getBytes(StandardCharsets.UTF_8));
    while (out.hasRemaining()) {
      channel.write(out);
    }
  }

  /** The next {@code "return"} value; an {@code "error"} answer becomes an IOException. */
  private Object reply(long end, Duration deadline) throws IOException {
    while (true) {
      byte[] buf = pending.toByteArray();
      for (int i = 0; i < buf.length; i++) {
        if (buf[i] != '\n') {
          continue;
        }
        String line = new String(buf, 0, i, StandardCharsets.UTF_8).strip();
        pending.reset();
        pending.write(buf, i + 1, buf.length - i - 1);
        if (line.isEmpty()) {
          return reply(end, deadline);
        }
        Object parsed;
        try {
          parsed = Json.parse(line);
        } catch (IllegalArgumentException e) {
          throw new IOException("the guest agent on " + socket + " sent something that is not JSON ("
              + printable(line, 80) + ")");
        }
        if (parsed instanceof Map<?, ?> m && m.containsKey("return")) {
          return m.get("return");
        }
        if (parsed instanceof Map<?, ?> m && m.get("error") instanceof Map<?, ?> e) {
          throw new IOException("the guest agent refused: " + printable(String.valueOf(e.get("desc")), 200));
        }
        return reply(end, deadline);
      }
      fill(end, deadline);
    }
  }

  private void fill(long end, Duration deadline) throws IOException {
    long left = (end - System.nanoTime()) / 1_000_000;
    if (left <= 0) {
      throw new IOException("no answer from the guest agent on " + socket + " within " + deadline.toMillis()
          + " ms (is qemu-ga running in the guest?)");
    }
    if (pending.size() > 1 << 20) {
      throw new IOException("the guest agent on " + socket + " sent more than 1 MiB without a line end");
    }
    selector.select(left);
    selector.selectedKeys().clear();
    in.clear();
    int n = channel.read(in);
    if (n < 0) {
      throw new IOException("the guest agent's socket " + socket + " was closed (another client on it?)");
    }
    pending.write(in.array(), 0, n);
  }

  /** Untrusted text (from the guest) for a message: control and non-ASCII characters as \\uXXXX, at most {@code max}. */
  static String printable(String s, int max) {
    StringBuilder b = new StringBuilder();
    int i = 0;
    for (; i < s.length() && b.length() < max; i++) {
      char c = s.charAt(i);
      if (c >= 0x20 && c < 0x7f && c != '\\') {
        b.append(c);
      } else {
        b.append(String.format("\\u%04x", (int) c));
      }
    }
    return i < s.length() ? b + "..." : b.toString();
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
