package io.earlystart.fetcher.client;

import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.protocol.Frame;
import io.earlystart.fetcher.protocol.FrameCodecException;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.OverlayHeader;
import io.earlystart.overlay.format.Segment;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The client side of one protocol v1 connection: sends HELLO and OPEN (pipelined: the server handles
 * frames in order), collects the META parts into the overlay head (header, manifest and attachment
 * area, each checked as soon as it is complete), then reassembles PART frames into
 * whole segment frames for the sink. Every META and PART buffer is released here, exactly once.
 *
 * <p>Any error ends the connection: before the head is complete it fails {@link #head()} (and so
 * {@code open}); afterwards it tells the sink once, unless the session was closed. Not
 * {@code @Sharable}; state is confined to the event loop except the {@code dead}/{@code abandoned}
 * flags.
 */
final class ClientHandler extends ChannelInboundHandlerAdapter {
  private final String source;
  private final String name;
  private final SegmentSource.Sink sink;
  private final CompletableFuture<OverlayHead> head = new CompletableFuture<>();
  private final AtomicBoolean failed = new AtomicBoolean();
  private volatile boolean abandoned;

  private ChannelHandlerContext ctx;
  private boolean welcomed;
  private byte[] headBytes;
  private int headTotal;
  private int headFilled;
  private OverlayHeader header;
  private OverlayHead overlayHead;
  private volatile byte[] attachments;
  private List<Segment> segments;
  private final Map<Integer, byte[]> partial = new HashMap<>();
  private final Map<Integer, Integer> filled = new HashMap<>();

  ClientHandler(String source, String name, SegmentSource.Sink sink) {
    this.source = source;
    this.name = name;
    this.sink = sink;
  }

  String source() {
    return source;
  }

  CompletableFuture<OverlayHead> head() {
    return head;
  }

  /** True once the connection failed or was closed: calls on the session are then ignored. */
  boolean dead() {
    return failed.get() || abandoned;
  }

  /** The session was closed (or open gave up): no sink calls from now on. */
  void abandon() {
    abandoned = true;
  }

  void connectFailed(Throwable cause) {
    fail(new IOException(source + ": cannot connect: " + cause.getMessage(), cause));
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    ctx.write(new Frame.Hello(Frame.VERSION, Frame.VERSION));
    ctx.writeAndFlush(new Frame.Open(name));
    super.channelActive(ctx);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (failed.get()) {
        return;
      }
      if (msg instanceof Frame.Part p) {
        onPart(p);
      } else if (msg instanceof Frame.Meta m) {
        onMeta(m);
      } else if (msg instanceof Frame.Welcome w) {
        if (welcomed) {
          protocolError("WELCOME sent twice");
        } else if (w.version() != Frame.VERSION) {
          protocolError("server chose protocol version " + w.version() + ", client asked for " + Frame.VERSION);
        }
        welcomed = true;
      } else if (msg instanceof Frame.Error e) {
        fail(new IOException(source + ": " + e.message()));
      } else {
        protocolError("unexpected frame from the server: " + msg.getClass().getSimpleName().toUpperCase());
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void onMeta(Frame.Meta m) {
    if (!welcomed || head.isDone()) {
      protocolError(welcomed ? "META after the head was complete" : "META before WELCOME");
      return;
    }
    if (headBytes == null) {
      if (m.total() < OverlayHeader.SIZE) {
        fail(new CorruptOverlayException(source, m.total(), "truncated header: head of " + m.total() + " bytes"));
        return;
      }
      headTotal = m.total();
      headBytes = new byte[Math.min(headTotal, Frame.MAX_PART)];
    }
    int n = m.data().readableBytes();
    if (m.total() != headTotal || m.offset() != headFilled) {
      protocolError("META " + m.offset() + "+" + n + " of " + m.total() + " after " + headFilled + " of "
          + headTotal + " bytes");
      return;
    }
    if (headFilled + n > headBytes.length) { // grows as bytes arrive: a lying total costs the liar
      headBytes = Arrays.copyOf(headBytes, (int) Math.min(headTotal, Math.max(2L * headBytes.length, headFilled + n)));
    }
    m.data().getBytes(m.data().readerIndex(), headBytes, headFilled, n);
    headFilled += n;
    try {
      if (header == null && headFilled >= OverlayHeader.SIZE) {
        header = OverlayHeader.decode(headBytes, OverlayHeader.SIZE, source);
        if (headTotal < header.dataStart()) {
          throw new CorruptOverlayException(source, headTotal, "truncated manifest: head of " + headTotal
              + " bytes, header and manifest take " + header.dataStart());
        }
      }
      if (header != null && overlayHead == null && headFilled >= header.dataStart()) {
        overlayHead = OverlayHead.of(header,
            Arrays.copyOfRange(headBytes, OverlayHeader.SIZE, (int) header.dataStart()), source);
        long expected = header.dataStart() + attachmentsEnd(overlayHead);
        if (headTotal != expected) {
          throw new CorruptOverlayException(source, headTotal, "head of " + headTotal + " bytes, the manifest says "
              + expected + " (header, manifest and attachments)");
        }
      }
      if (headFilled == headTotal) {
        attachments = Arrays.copyOfRange(headBytes, (int) header.dataStart(), headTotal);
        headBytes = null;
        segments = overlayHead.manifest().segments();
        head.complete(overlayHead);
      }
    } catch (IOException e) {
      fail(e);
    }
  }

  /** Where the attachments end in the data area (segments follow): the head is everything before. */
  static long attachmentsEnd(OverlayHead h) {
    long end = 0;
    for (Attachment a : h.manifest().attachments()) {
      end = Math.max(end, a.end());
    }
    return end;
  }

  /** The attachment area (data area up to the first segment), once the head is complete. */
  byte[] attachments() {
    return attachments;
  }

  private void onPart(Frame.Part p) {
    if (segments == null) {
      protocolError("PART before the head was complete");
      return;
    }
    int index = p.segment();
    if (index >= segments.size()) {
      protocolError("PART of segment " + index + " beyond the " + segments.size() + " segments");
      return;
    }
    int length = segments.get(index).length();
    int n = p.data().readableBytes();
    int at = filled.getOrDefault(index, 0);
    if (p.offset() != at || (long) at + n > length) {
      protocolError("PART " + p.offset() + "+" + n + " of segment " + index + " (" + length
          + " bytes) after " + at + " bytes");
      return;
    }
    byte[] frame = partial.get(index);
    if (frame == null) {
      frame = new byte[length];
    }
    p.data().getBytes(p.data().readerIndex(), frame, at, n);
    if (at + n == length) {
      partial.remove(index);
      filled.remove(index);
      if (!abandoned) {
        sink.segment(index, frame);
      }
    } else {
      partial.put(index, frame);
      filled.put(index, at + n);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    fail(new IOException(source + ": connection closed by the server"
        + (head.isDone() ? "" : " before the overlay head arrived")));
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof FrameCodecException) {
      protocolError("malformed frame: " + cause.getMessage());
    } else {
      fail(new IOException(source + ": " + cause.getMessage(), cause));
    }
  }

  private void protocolError(String reason) {
    fail(new IOException(source + ": protocol error: " + reason));
  }

  /** Ends the connection; the first cause goes to open (head not complete yet) or to the sink. */
  private void fail(IOException cause) {
    if (!failed.compareAndSet(false, true)) {
      return;
    }
    partial.clear();
    filled.clear();
    if (ctx != null) {
      ctx.close();
    }
    if (!head.completeExceptionally(cause) && !abandoned) {
      sink.failed(cause);
    }
  }
}
