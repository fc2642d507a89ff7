package io.earlystart.bench;

import io.earlystart.fetcher.protocol.Frame;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * A minimal protocol v1 client (fetcher/PROTOCOL.md) on a blocking {@link Socket}, for measuring demand
 * latency with as little client overhead as possible: no netty, no verification, one reader thread
 * that timestamps frames right after it read them from the socket.
 *
 * <p>It sends HELLO and OPEN, reads WELCOME and the META parts until the head is complete (the bytes
 * are discarded: segment lengths come from the caller, who read the same file's manifest), then keeps
 * a background window: STREAM ranges for the next segments in file order while fewer than
 * {@code windowBytes} stream bytes are asked for and not yet arrived, topped up whenever a stream
 * segment completes (as {@code SegmentScheduler} does). {@link #demand} asks for one segment either
 * with DEMAND (preempt) or by appending it to the stream with STREAM (FIFO baseline) and blocks until
 * its last byte is there.
 */
final class RawProtocolClient implements Closeable {
  /** One demand: nanoTime stamps taken on the reader thread. */
  record Sample(int segment, int length, long sent, long firstHeader, long firstPart, long last,
      long outstandingAtSend) {
    double toFirstHeader() {
      return (firstHeader - sent) / 1e9;
    }

    double toFirstPart() {
      return (firstPart - sent) / 1e9;
    }

    double toLast() {
      return (last - sent) / 1e9;
    }
  }

  private final Socket socket;
  private final DataInputStream in;
  private final DataOutputStream out;
  private final int[] lengths;
  private final long windowBytes;
  private final Thread reader;
  private final byte[] scratch = new byte[1 << 17];

  // guarded by this
  private final BitSet requested = new BitSet();
  private final int[] got;
  private int cursor;
  private long outstanding;
  private int streamCompleted;
  private long wireBytes;
  private long streamStartNanos;
  private int pending = -1;
  private long pendingFirstHeader;
  private long pendingFirstPart;
  private long pendingLast;
  private Throwable error;
  private boolean closing;

  RawProtocolClient(String host, int port, String name, int[] lengths, long windowBytes) throws IOException {
    this.lengths = lengths;
    this.windowBytes = windowBytes;
    this.got = new int[lengths.length];
    socket = new Socket();
    socket.setTcpNoDelay(true);
    socket.setReceiveBufferSize(1 << 20);
    socket.connect(new InetSocketAddress(host, port), 10_000);
    in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
    out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    synchronized (out) {
      out.writeInt(Frame.Hello.LENGTH);
      out.writeByte(Frame.HELLO);
      out.writeInt(Frame.MAGIC);
      out.writeShort(Frame.VERSION);
      out.writeShort(Frame.VERSION);
      out.writeInt(1 + n.length);
      out.writeByte(Frame.OPEN);
      out.write(n);
      out.flush();
    }
    readHead();
    List<int[]> ranges;
    synchronized (this) {
      streamStartNanos = System.nanoTime();
      ranges = topUp();
    }
    sendStream(ranges);
    reader = new Thread(this::readLoop, "raw-protocol-reader");
    reader.setDaemon(true);
    reader.start();
  }

  private void readHead() throws IOException {
    int length = in.readInt();
    int type = in.readUnsignedByte();
    if (type != Frame.WELCOME) {
      throw new IOException("expected WELCOME, got type 0x" + Integer.toHexString(type) + ": " + rest(length));
    }
    in.readFully(scratch, 0, length - 1);
    long total = -1;
    long have = 0;
    while (total < 0 || have < total) {
      length = in.readInt();
      type = in.readUnsignedByte();
      if (type != Frame.META) {
        throw new IOException("expected META, got type 0x" + Integer.toHexString(type) + ": " + rest(length));
      }
      total = in.readInt() & 0xffffffffL;
      long offset = in.readInt() & 0xffffffffL;
      int n = length - Frame.Meta.FIXED_LENGTH;
      in.readFully(scratch, 0, n);
      if (offset != have) {
        throw new IOException("META at " + offset + ", expected " + have);
      }
      have += n;
    }
  }

  private String rest(int length) throws IOException {
    byte[] b = new byte[Math.max(0, length - 1)];
    in.readFully(b);
    return new String(b, 2, Math.max(0, b.length - 2), StandardCharsets.UTF_8);
  }

  /** Segments to append to the stream so that the window is full again; marks them requested. */
  private List<int[]> topUp() {
    List<int[]> ranges = new ArrayList<>();
    while (cursor < lengths.length && outstanding < windowBytes) {
      if (!requested.get(cursor)) {
        requested.set(cursor);
        outstanding += lengths[cursor];
        if (!ranges.isEmpty() && ranges.get(ranges.size() - 1)[1] == cursor) {
          ranges.get(ranges.size() - 1)[1] = cursor + 1;
        } else {
          ranges.add(new int[] {cursor, cursor + 1});
        }
      }
      cursor++;
    }
    return ranges;
  }

  private void sendStream(List<int[]> ranges) throws IOException {
    if (ranges.isEmpty()) {
      return;
    }
    synchronized (out) {
      out.writeInt(Frame.Stream.length(ranges.size()));
      out.writeByte(Frame.STREAM);
      out.writeShort(ranges.size());
      for (int[] r : ranges) {
        out.writeInt(r[0]);
        out.writeInt(r[1]);
      }
      out.flush();
    }
  }

  private void readLoop() {
    try {
      while (true) {
        int length = in.readInt();
        int type = in.readUnsignedByte();
        long header = System.nanoTime();
        if (type == Frame.ERROR) {
          throw new IOException("server ERROR: " + rest(length));
        }
        if (type != Frame.PART) {
          throw new IOException("unexpected frame type 0x" + Integer.toHexString(type));
        }
        int seg = in.readInt();
        int off = in.readInt();
        int n = length - Frame.Part.FIXED_LENGTH;
        in.readFully(scratch, 0, n);
        long now = System.nanoTime();
        List<int[]> ranges = null;
        synchronized (this) {
          wireBytes += Frame.LENGTH_FIELD + (long) length;
          if (got[seg] != off) {
            throw new IOException("part of segment " + seg + " at " + off + ", expected " + got[seg]);
          }
          got[seg] += n;
          boolean complete = got[seg] == lengths[seg];
          if (seg == pending) {
            if (off == 0) {
              pendingFirstHeader = header;
              pendingFirstPart = now;
            }
            if (complete) {
              pendingLast = now;
              notifyAll();
            }
          } else if (complete) {
            outstanding -= lengths[seg];
            streamCompleted++;
            ranges = topUp();
            notifyAll();
          }
        }
        if (ranges != null) {
          sendStream(ranges);
        }
      }
    } catch (Throwable t) {
      synchronized (this) {
        if (!closing && !(t instanceof EOFException && pending < 0)) {
          error = t;
        }
        closing = true;
        notifyAll();
      }
    }
  }

  /** Blocks until {@code n} background segments have completed. */
  synchronized void awaitStreamed(int n, long timeoutMillis) throws IOException, InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (streamCompleted < n) {
      check();
      long left = deadline - System.currentTimeMillis();
      if (left <= 0) {
        throw new IOException("stream did not deliver " + n + " segments within " + timeoutMillis + " ms");
      }
      wait(left);
    }
  }

  /**
   * A segment not asked for yet (neither streamed nor demanded), chosen at random, while the stream
   * still has segments to ask for (so its window is full); -1 when there is none left.
   */
  synchronized int pickUnrequested(java.util.Random random) {
    if (cursor >= lengths.length) {
      return -1;
    }
    int free = lengths.length - requested.cardinality();
    if (free <= 0) {
      return -1;
    }
    int k = random.nextInt(free);
    int i = requested.nextClearBit(0);
    while (k-- > 0) {
      i = requested.nextClearBit(i + 1);
    }
    return i;
  }

  /**
   * Asks for {@code segment} (DEMAND if {@code preempt}, else appended to the stream) and waits for its
   * last byte.
   */
  Sample demand(int segment, boolean preempt, long timeoutMillis) throws IOException, InterruptedException {
    long outstandingNow;
    synchronized (this) {
      check();
      requested.set(segment);
      pending = segment;
      pendingFirstHeader = pendingFirstPart = pendingLast = 0;
      outstandingNow = outstanding;
    }
    long sent;
    synchronized (out) {
      if (preempt) {
        out.writeInt(Frame.Demand.LENGTH);
        out.writeByte(Frame.DEMAND);
        out.writeInt(segment);
      } else {
        out.writeInt(Frame.Stream.length(1));
        out.writeByte(Frame.STREAM);
        out.writeShort(1);
        out.writeInt(segment);
        out.writeInt(segment + 1);
      }
      sent = System.nanoTime();
      out.flush();
    }
    synchronized (this) {
      long deadline = System.currentTimeMillis() + timeoutMillis;
      while (pendingLast == 0) {
        check();
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
          throw new IOException("segment " + segment + " did not arrive within " + timeoutMillis + " ms");
        }
        wait(left);
      }
      pending = -1;
      return new Sample(segment, lengths[segment], sent, pendingFirstHeader, pendingFirstPart, pendingLast,
          outstandingNow);
    }
  }

  /** Wire bytes received since the stream was first asked for, and the nanoTime of that request. */
  synchronized long[] throughput() {
    return new long[] {wireBytes, streamStartNanos};
  }

  private void check() throws IOException {
    if (error != null) {
      throw new IOException("raw client failed: " + error, error);
    }
    if (closing) {
      throw new IOException("connection closed");
    }
  }

  @Override
  public void close() throws IOException {
    synchronized (this) {
      closing = true;
    }
    socket.close();
  }
}
