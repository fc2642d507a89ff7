package io.earlystart.fetcher.net;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on loopback that passes bytes between a client and an upstream server and can damage
 * the server-to-client direction of chosen connections: flip one byte at a given offset, cut the
 * connection after a given number of bytes, or stall for a while. Connections are numbered from 0 in
 * accept order. Thread-safe; close() stops everything.
 */
public final class FaultyProxy implements Closeable {
  /** What to do to one connection's server-to-client bytes. */
  public record Fault(long flipAt, long cutAt, long stallAt, long stallMillis) {
    public static final Fault NONE = new Fault(-1, -1, -1, 0);

    public static Fault flip(long at) {
      return new Fault(at, -1, -1, 0);
    }

    public static Fault cut(long at) {
      return new Fault(-1, at, -1, 0);
    }

    public static Fault stall(long at, long millis) {
      return new Fault(-1, -1, at, millis);
    }
  }

  private final ServerSocket listener;
  private final InetSocketAddress upstream;
  private final List<Fault> faults = new CopyOnWriteArrayList<>();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final AtomicInteger accepted = new AtomicInteger();
  private volatile boolean closed;

  public FaultyProxy(InetSocketAddress upstream) throws IOException {
    this.upstream = upstream;
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::acceptLoop, "faulty-proxy");
    t.setDaemon(true);
    t.start();
  }

  /** Faults for connections 0, 1, 2, ... in accept order; later connections pass untouched. */
  public void plan(Fault... perConnection) {
    faults.clear();
    faults.addAll(List.of(perConnection));
  }

  public int port() {
    return listener.getLocalPort();
  }

  public int connections() {
    return accepted.get();
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket client = listener.accept();
        int n = accepted.getAndIncrement();
        Fault fault = n < faults.size() ? faults.get(n) : Fault.NONE;
        Socket server = new Socket();
        server.connect(upstream, 5000);
        sockets.add(client);
        sockets.add(server);
        pump(client, server, Fault.NONE, "c2s");
        pump(server, client, fault, "s2c");
      } catch (IOException e) {
        if (!closed) {
          continue;
        }
        return;
      }
    }
  }

  private void pump(Socket from, Socket to, Fault fault, String name) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[8192];
      long pos = 0;
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buf)) > 0) {
          if (fault.flipAt >= pos && fault.flipAt < pos + n) {
            buf[(int) (fault.flipAt - pos)] ^= 0x10;
          }
          if (fault.stallAt >= pos && fault.stallAt < pos + n) {
            Thread.sleep(fault.stallMillis);
          }
          if (fault.cutAt >= 0 && pos + n > fault.cutAt) {
            out.write(buf, 0, (int) Math.max(0, fault.cutAt - pos));
            out.flush();
            break;
          }
          out.write(buf, 0, n);
          out.flush();
          pos += n;
        }
      } catch (IOException | InterruptedException e) {
        // one side closed
      } finally {
        closeQuietly(from);
        closeQuietly(to);
      }
    }, "faulty-proxy-" + name);
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    listener.close();
    for (Socket s : sockets) {
      closeQuietly(s);
    }
  }
}
