package io.earlystart.fetcher.client;

import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.protocol.Frame;
import io.earlystart.fetcher.protocol.FrameDecoder;
import io.earlystart.fetcher.protocol.FrameEncoder;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.OverlayHead;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The project's own protocol ({@code es://host:port/NAME}, fetcher/PROTOCOL.md) as a {@link
 * SegmentSource}. NAME is an overlay file name on the server (with or without {@code .overlay}) or an
 * overlay id. Each {@link #open} is a new connection; all connections of one source share one netty
 * event loop thread, shut down by {@link #close}. Thread-safe.
 */
public final class ProtocolSource implements SegmentSource {
  public static final String SCHEME = "es";
  public static final int DEFAULT_PORT = 8021;

  /**
   * Unpooled buffers for the client's channels: netty's default (adaptive, pooled) allocator spent
   * ~100 ms on its first allocations in a fresh JVM, between connecting and reading the server's first
   * frame, which is on the critical path of {@code launch} (the stream starts after the head). A client
   * holds few buffers at a time (frames of at most 64 KiB), so pooling gains it little.
   */
  private static final ByteBufAllocator ALLOCATOR = UnpooledByteBufAllocator.DEFAULT;

  private final String host;
  private final int port;
  private final String name;
  private final EventLoopGroup group;

  public ProtocolSource(String host, int port, String name) {
    int bytes = name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    if (bytes < 1 || bytes > 255) {
      throw new IllegalArgumentException("overlay name must have 1 to 255 bytes in UTF-8, not " + bytes);
    }
    this.host = host;
    this.port = port;
    this.name = name;
    this.group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("es-client", true),
        NioIoHandler.newFactory());
  }

  /** Parses {@code es://host[:port]/NAME} (port 8021 if absent). */
  public static ProtocolSource parse(String spec) {
    URI uri;
    try {
      uri = new URI(spec);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("invalid source " + spec + ": " + e.getReason());
    }
    if (!SCHEME.equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null || uri.getPath() == null
        || uri.getPath().length() < 2 || uri.getQuery() != null || uri.getFragment() != null) {
      throw new IllegalArgumentException("invalid source " + spec + ": expected es://host:port/NAME");
    }
    String h = uri.getHost();
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    return new ProtocolSource(h, uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort(), uri.getPath().substring(1));
  }

  @Override
  public String describe() {
    String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
    return SCHEME + "://" + h + ":" + port + "/" + name;
  }

  @Override
  public Session open(SegmentSource.Sink sink, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    ClientHandler handler = new ClientHandler(describe(), name, sink);
    Bootstrap b = new Bootstrap().group(group).channel(NioSocketChannel.class)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.ALLOCATOR, ALLOCATOR)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, Math.min(Integer.MAX_VALUE,
            timeout.toMillis())))
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new FrameDecoder(), FrameEncoder.INSTANCE, handler);
          }
        });
    ChannelFuture connect;
    try {
      connect = b.connect(host, port);
    } catch (RuntimeException e) {
      throw new IOException(describe() + ": cannot connect: " + e.getMessage(), e);
    }
    connect.addListener(f -> {
      if (!f.isSuccess()) {
        handler.connectFailed(f.cause());
      }
    });
    Channel ch = connect.channel();
    try {
      OverlayHead head = handler.head().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      return new ProtocolSession(ch, handler, head);
    } catch (TimeoutException e) {
      handler.abandon();
      ch.close();
      throw new IOException("source " + describe() + " did not answer within " + seconds(timeout));
    } catch (InterruptedException e) {
      handler.abandon();
      ch.close();
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while opening " + describe());
    } catch (ExecutionException e) {
      ch.close();
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new IOException(describe() + ": " + e.getCause(), e.getCause());
    }
  }

  private static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  @Override
  public void close() {
    var done = group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    if (!group.next().inEventLoop()) { // closed from a sink callback: do not wait for ourselves
      done.syncUninterruptibly();
    }
  }

  @Override
  public String toString() {
    return describe();
  }

  /** One connection: sends STREAM and DEMAND; the handler delivers the parts. */
  private static final class ProtocolSession implements Session {
    private final Channel channel;
    private final ClientHandler handler;
    private final OverlayHead head;

    ProtocolSession(Channel channel, ClientHandler handler, OverlayHead head) {
      this.channel = channel;
      this.handler = handler;
      this.head = head;
    }

    @Override
    public OverlayHead head() {
      return head;
    }

    @Override
    public void stream(int[] segments) {
      int count = head.manifest().segments().size();
      for (int s : segments) {
        if (s < 0 || s >= count) {
          throw new IllegalArgumentException("segment " + s + " out of range (" + count + " segments)");
        }
      }
      if (handler.dead()) {
        return;
      }
      List<int[]> ranges = new ArrayList<>();
      for (int i = 0; i < segments.length; ) {
        int j = i + 1;
        while (j < segments.length && segments[j] == segments[j - 1] + 1) {
          j++;
        }
        ranges.add(new int[] {segments[i], segments[j - 1] + 1});
        i = j;
      }
      for (int from = 0; from < ranges.size(); from += Frame.Stream.MAX_RANGES) {
        int n = Math.min(Frame.Stream.MAX_RANGES, ranges.size() - from);
        int[] firsts = new int[n];
        int[] ends = new int[n];
        for (int k = 0; k < n; k++) {
          firsts[k] = ranges.get(from + k)[0];
          ends[k] = ranges.get(from + k)[1];
        }
        channel.write(new Frame.Stream(firsts, ends));
      }
      channel.flush();
    }

    @Override
    public void demand(int segment) {
      int count = head.manifest().segments().size();
      if (segment < 0 || segment >= count) {
        throw new IllegalArgumentException("segment " + segment + " out of range (" + count + " segments)");
      }
      if (!handler.dead()) {
        channel.writeAndFlush(new Frame.Demand(segment));
      }
    }

    /** Attachments came with the head (they precede the segments): verified and decompressed here. */
    @Override
    public byte[] attachment(Attachment a) throws IOException {
      if (!head.manifest().attachments().contains(a)) {
        throw new IllegalArgumentException("attachment " + a.name() + " is not in the manifest of " + source());
      }
      byte[] area = handler.attachments();
      long at = head.header().dataStart() + a.offset();
      byte[] frame = Arrays.copyOfRange(area, (int) a.offset(), (int) a.end());
      return a.decode(frame, source(), at);
    }

    private String source() {
      return handler.source();
    }

    @Override
    public void close() {
      handler.abandon();
      channel.close();
    }
  }
}
