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

/**
 * One JSON object a line over a Unix socket, as QEMU's monitor (QMP) and its guest agent speak: the
 * channel is non-blocking and read through one selector for its life, so every read has a deadline.
 * Not thread-safe; one owner.
 */
final class JsonLines implements Closeable {
  private static final int MAX_LINE = 1 << 20;

  private final SocketChannel channel;
  private final Selector selector;
  private final Path socket;
  private final String closedMessage;
  private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
  private final ByteBuffer in = ByteBuffer.allocate(64 << 10);

  private JsonLines(SocketChannel channel, Path socket, String closedMessage) throws IOException {
    this.channel = channel;
    this.socket = socket;
    this.closedMessage = closedMessage;
    channel.configureBlocking(false);
    selector = Selector.open();
    channel.register(selector, SelectionKey.OP_READ);
  }

  /**
   * Connects to {@code socket}. {@code closedMessage} is the error when the peer closes the connection.
   *
   * @throws IOException the connect's own error (no such socket, refused)
   */
  static JsonLines connect(Path socket, String closedMessage) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(socket));
      return new JsonLines(ch, socket, closedMessage);
    } catch (IOException e) {
      ch.close();
      throw e;
    }
  }

  void send(String json) throws IOException {
    ByteBuffer out = ByteBuffer.wrap((json + "\n").getBytes(StandardCharsets.UTF_8));
    while (out.hasRemaining()) {
      channel.write(out);
    }
  }

  /** The next non-empty line, stripped, before {@code endNanos} ({@link System#nanoTime}), else {@code noAnswer}. */
  String readLine(long endNanos, String noAnswer) throws IOException {
    while (true) {
      byte[] buf = pending.toByteArray();
      int start = 0;
      for (int i = 0; i < buf.length; i++) {
        if (buf[i] == '\n') {
          String line = new String(buf, start, i - start, StandardCharsets.UTF_8).strip();
          start = i + 1;
          if (!line.isEmpty()) {
            keep(buf, start);
            return line;
          }
        }
      }
      keep(buf, start);
      fill(endNanos, noAnswer);
    }
  }

  /** Drops everything up to and including the next {@code marker} byte, waiting for it until {@code endNanos}. */
  void skipPast(byte marker, long endNanos, String noAnswer) throws IOException {
    while (true) {
      byte[] buf = pending.toByteArray();
      for (int i = 0; i < buf.length; i++) {
        if (buf[i] == marker) {
          keep(buf, i + 1);
          return;
        }
      }
      pending.reset();
      fill(endNanos, noAnswer);
    }
  }

  private void keep(byte[] buf, int from) {
    pending.reset();
    pending.write(buf, from, buf.length - from);
  }

  private void fill(long endNanos, String noAnswer) throws IOException {
    long left = (endNanos - System.nanoTime()) / 1_000_000;
    if (left <= 0) {
      throw new IOException(noAnswer);
    }
    if (pending.size() > MAX_LINE) {
      throw new IOException("more than 1 MiB without a line end on " + socket);
    }
    selector.select(left);
    selector.selectedKeys().clear();
    in.clear();
    int n = channel.read(in);
    if (n < 0) {
      throw new IOException(closedMessage);
    }
    pending.write(in.array(), 0, n);
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
