package io.earlystart.cli;

import java.io.Closeable;
import java.io.IOException;
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

  private final JsonLines lines;
  private final Path socket;

  private GuestAgent(JsonLines lines, Path socket) {
    this.lines = lines;
    this.socket = socket;
  }

  /** Connects to the agent behind {@code socket} and synchronises with it within {@code deadline}. */
  static GuestAgent connect(Path socket, Duration deadline) throws IOException {
    GuestAgent a;
    try {
      a = new GuestAgent(JsonLines.connect(socket, "the guest agent's socket " + socket
          + " was closed (another client on it?)"), socket);
    } catch (IOException e) {
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
    lines.send("{\"execute\": \"guest-sync-delimited\", \"arguments\": {\"id\": " + id + "}}");
    long end = System.nanoTime() + deadline.toNanos();
    // everything up to the agent's 0xFF is left over from someone else's session
    lines.skipPast((byte) 0xFF, end, noAnswer(deadline));
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
    lines.send("{\"execute\": \"guest-fstrim\"}");
    long end = System.nanoTime() + deadline.toNanos();
    Object r = reply(end, deadline);
    if (r instanceof Map<?, ?> m && m.get("paths") instanceof List<?> paths) {
      return (List<Map<String, Object>>) paths;
    }
    throw new IOException("unexpected answer to guest-fstrim from the guest agent on " + socket);
  }

  /** The next {@code "return"} value; an {@code "error"} answer becomes an IOException. */
  private Object reply(long end, Duration deadline) throws IOException {
    while (true) {
      String line = lines.readLine(end, noAnswer(deadline));
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
    }
  }

  private String noAnswer(Duration deadline) {
    return "no answer from the guest agent on " + socket + " within " + deadline.toMillis()
        + " ms (is qemu-ga running in the guest?)";
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
    lines.close();
  }
}
