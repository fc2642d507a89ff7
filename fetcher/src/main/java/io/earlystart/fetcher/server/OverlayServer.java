package io.earlystart.fetcher.server;

import io.earlystart.fetcher.protocol.FrameDecoder;
import io.earlystart.fetcher.protocol.FrameEncoder;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.OverlayFile;
import io.earlystart.overlay.format.OverlayHeader;
import io.earlystart.overlay.format.Segment;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code earlystart serve}: serves every {@code *.overlay} file of a directory over protocol v1
 * (fetcher/PROTOCOL.md), by file name (with or without {@code .overlay}) or by overlay id. Files are
 * opened and verified once at start; a bad file is logged and skipped. The rate limit is one token
 * bucket for the whole server; the added delay applies to every connection in both directions.
 *
 * <p>{@link #start} binds and returns at once; {@link #close} stops listening, closes every
 * connection and the files. Thread-safe.
 */
public final class OverlayServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(OverlayServer.class);
  private static final int WATER_LOW = 32 << 10;
  private static final int WATER_HIGH = 64 << 10;

  private final ServerOptions options;
  private final Catalog catalog;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final ChannelGroup channels = new DefaultChannelGroup("earlystart-serve", GlobalEventExecutor.INSTANCE);
  private final Channel listener;
  private boolean closed;

  private OverlayServer(ServerOptions options, Catalog catalog) throws IOException {
    this.options = options;
    this.catalog = catalog;
    RateLimiter limiter = new RateLimiter(options.rateBytesPerSecond());
    long delayNanos = options.delay().toNanos();
    // room in the delay line: twice the bandwidth-delay product, at least 1 MiB (unlimited rate: 1 MiB)
    long inFlight = Math.max(1 << 20, 2 * (long) (options.rateBytesPerSecond() * (delayNanos / 1e9)));
    long idleMillis = Math.max(1, options.idleTimeout().toMillis());
    boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("es-serve-accept", true),
        NioIoHandler.newFactory());
    workers = new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("es-serve", true),
        NioIoHandler.newFactory());
    ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(NioServerSocketChannel.class)
        // a restarted server may bind again while its old connections sit in TIME_WAIT
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(WATER_LOW, WATER_HIGH))
        .childOption(ChannelOption.SO_SNDBUF, WATER_HIGH)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            channels.add(ch);
            ChannelPipeline p = ch.pipeline();
            p.addLast(new IdleStateHandler(0, 0, idleMillis, TimeUnit.MILLISECONDS));
            p.addLast(new FrameDecoder());
            p.addLast(FrameEncoder.INSTANCE);
            DelayLine delay = delayNanos > 0 ? new DelayLine(delayNanos, inFlight) : null;
            if (delay != null) {
              p.addLast(delay);
            }
            p.addLast(new ServerHandler(catalog, limiter, delay));
          }
        });
    try {
      listener = b.bind(options.bindAddress(), options.port()).syncUninterruptibly().channel();
    } catch (Exception e) { // netty rethrows the checked BindException unchecked
      shutdown();
      throw new IOException("cannot listen on " + options.bindAddress() + ":" + options.port() + ": "
          + e.getMessage(), e);
    }
  }

  /** Opens the overlays of {@code options.dir()} and starts listening. */
  public static OverlayServer start(ServerOptions options) throws IOException {
    Catalog catalog = Catalog.load(options.dir());
    try {
      return new OverlayServer(options, catalog);
    } catch (IOException | RuntimeException e) {
      catalog.close();
      throw e;
    }
  }

  /** The port listened on (the chosen one when the options said 0). */
  public int port() {
    return ((InetSocketAddress) listener.localAddress()).getPort();
  }

  public String host() {
    return ((InetSocketAddress) listener.localAddress()).getHostString();
  }

  /**
   * How many times each segment of overlay {@code name} has been sent whole since the server started
   * (by stream or demand, to any client): the server's access log, for tests and benchmarks that check
   * what a client asked for.
   *
   * @throws IllegalArgumentException if no overlay is served under {@code name}
   */
  public int[] segmentsSent(String name) {
    Served s = catalog.find(name);
    if (s == null) {
      throw new IllegalArgumentException("no overlay " + name);
    }
    int[] counts = new int[s.sent().length()];
    for (int i = 0; i < counts.length; i++) {
      counts[i] = s.sent().get(i);
    }
    return counts;
  }

  /** How many overlays are served. */
  public int overlayCount() {
    return catalog.all.size();
  }

  public ServerOptions options() {
    return options;
  }

  /** Stops listening, closes every connection and waits for the event loops to end. Idempotent. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    listener.close().syncUninterruptibly();
    channels.close().syncUninterruptibly();
    shutdown();
    catalog.close();
  }

  private void shutdown() {
    // wait for both loops: the JDK closes a registered listening socket only when its selector lets
    // go of it, and a restarted server on the same port must find the port free
    var b = boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    b.syncUninterruptibly();
  }

  /**
   * One served overlay: the verified file, a channel for positional reads, and its head bytes (header,
   * stored manifest and attachments: everything before the first segment).
   */
  record Served(String name, OverlayFile file, FileChannel channel, byte[] head,
      java.util.concurrent.atomic.AtomicIntegerArray sent) {
    OverlayHeader header() {
      return file.header();
    }

    int segmentCount() {
      return file.manifest().segments().size();
    }

    Segment segment(int index) {
      return file.manifest().segments().get(index);
    }
  }

  /** The overlays of a directory by file name, by name without {@code .overlay} and by id. Immutable. */
  static final class Catalog {
    private final Map<String, Served> byName;
    private final Map<String, Served> byId;
    private final List<Served> all;

    private Catalog(List<Served> all) {
      this.all = all;
      Map<String, Served> names = new HashMap<>();
      Map<String, Served> ids = new HashMap<>();
      for (Served s : all) {
        names.put(s.name(), s);
        names.putIfAbsent(s.name().substring(0, s.name().length() - ".overlay".length()), s);
        ids.putIfAbsent(s.file().id(), s);
      }
      this.byName = names;
      this.byId = ids;
    }

    static Catalog load(Path dir) throws IOException {
      if (!Files.exists(dir)) {
        throw new NoSuchFileException(dir.toString(), null, "directory not found");
      }
      if (!Files.isDirectory(dir)) {
        throw new NotDirectoryException(dir.toString());
      }
      List<Path> files = new ArrayList<>();
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.overlay")) {
        ds.forEach(files::add);
      }
      Collections.sort(files);
      List<Served> served = new ArrayList<>();
      for (Path f : files) {
        try {
          served.add(open(f));
        } catch (IOException | UncheckedIOException | IllegalArgumentException e) {
          LOG.warn("skipping {}: {}", f, e.getMessage());
        }
      }
      return new Catalog(served);
    }

    private static Served open(Path f) throws IOException {
      OverlayFile file = OverlayFile.open(f);
      FileChannel ch = null;
      try {
        ch = FileChannel.open(f, StandardOpenOption.READ);
        long attachmentsEnd = 0;
        for (Attachment a : file.manifest().attachments()) {
          attachmentsEnd = Math.max(attachmentsEnd, a.end());
        }
        // the head: header, manifest and attachments, i.e. everything before the first segment
        byte[] head = new byte[Math.toIntExact(file.header().dataStart() + attachmentsEnd)];
        ByteBuffer b = ByteBuffer.wrap(head);
        while (b.hasRemaining()) {
          if (ch.read(b, b.position()) < 0) {
            throw new IOException(f + ": truncated head");
          }
        }
        return new Served(f.getFileName().toString(), file, ch, head,
            new java.util.concurrent.atomic.AtomicIntegerArray(file.manifest().segments().size()));
      } catch (IOException | RuntimeException e) {
        file.close();
        if (ch != null) {
          ch.close();
        }
        throw e;
      }
    }

    /** By file name, name without {@code .overlay}, or id (64 hex digits, any case); null if none. */
    Served find(String name) {
      Served s = byName.get(name);
      if (s == null && name.length() == 64) {
        s = byId.get(name.toLowerCase(Locale.ROOT));
      }
      return s;
    }

    void close() {
      for (Served s : all) {
        try {
          s.file().close();
          s.channel().close();
        } catch (IOException e) {
          LOG.debug("closing {}: {}", s.name(), e.toString());
        }
      }
    }
  }
}
