package io.earlystart.fetcher.server;

import io.earlystart.fetcher.protocol.Frame;
import io.earlystart.fetcher.protocol.FrameCodecException;
import io.earlystart.overlay.format.Segment;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection of {@link OverlayServer}: the protocol v1 state machine (HELLO, OPEN, then STREAM and
 * DEMAND in any order) and the sender.
 *
 * <p>The sender writes one part (at most 64 KiB) at a time and only while the channel is writable, so
 * the wire never holds more than the water marks plus one part ahead of a demand. Each part is, in
 * this order of priority: the next META part until the head is sent; the next part of the first
 * demanded segment; the next part of the background stream. A demand for the segment being streamed
 * continues it from where it is, with demand priority; a demanded segment is not streamed again.
 * Parts are read with positional reads into pooled buffers whose ownership passes to the pipeline.
 *
 * <p>Anything malformed, out of order or out of range ends this connection only: one WARN, an ERROR
 * frame, close. Not {@code @Sharable}; all state is confined to the channel's event loop.
 */
final class ServerHandler extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(ServerHandler.class);
  /** Bound on queued background ranges per connection (a client cannot make the server hoard memory). */
  private static final int MAX_QUEUED_RANGES = 1 << 20;

  private enum State { HELLO, OPEN, SERVING, CLOSING }

  /** A segment being sent, and how far. */
  private static final class Cursor {
    final int segment;
    int offset;

    Cursor(int segment, int offset) {
      this.segment = segment;
      this.offset = offset;
    }
  }

  private final OverlayServer.Catalog catalog;
  private final RateLimiter limiter;
  private final DelayLine delayLine;

  private ChannelHandlerContext ctx;
  private State state = State.HELLO;
  private OverlayServer.Served overlay;
  private int metaOffset;
  private final ArrayDeque<int[]> background = new ArrayDeque<>();
  private final ArrayDeque<Cursor> demands = new ArrayDeque<>();
  private final BitSet claimed = new BitSet();
  private final BitSet inDemandQueue = new BitSet();
  private Cursor streaming;
  private boolean sendQueued;
  private boolean waitingForTokens;

  /** @param delayLine the channel's delay line, or null without added delay */
  ServerHandler(OverlayServer.Catalog catalog, RateLimiter limiter, DelayLine delayLine) {
    this.catalog = catalog;
    this.limiter = limiter;
    this.delayLine = delayLine;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (state == State.CLOSING) {
        return;
      }
      if (msg instanceof Frame.Hello h) {
        onHello(h);
      } else if (msg instanceof Frame.Open o) {
        onOpen(o);
      } else if (msg instanceof Frame.Stream s) {
        onStream(s);
      } else if (msg instanceof Frame.Demand d) {
        onDemand(d);
      } else {
        badRequest("unexpected frame from a client: " + msg.getClass().getSimpleName().toUpperCase());
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void onHello(Frame.Hello h) {
    if (state != State.HELLO) {
      badRequest("HELLO sent twice");
      return;
    }
    if (h.minVersion() > Frame.VERSION || h.maxVersion() < Frame.VERSION) {
      LOG.warn("{}: client speaks protocol versions {}..{}, this server only {}", remote(), h.minVersion(),
          h.maxVersion(), Frame.VERSION);
      closeWith(new Frame.Error(Frame.Error.UNSUPPORTED_VERSION, "server speaks protocol version "
          + Frame.VERSION + " only, client asked for " + h.minVersion() + ".." + h.maxVersion()));
      return;
    }
    state = State.OPEN;
    ctx.writeAndFlush(new Frame.Welcome(Frame.VERSION, Frame.MAX_LENGTH));
  }

  private void onOpen(Frame.Open o) {
    if (state != State.OPEN) {
      badRequest(state == State.HELLO ? "OPEN before HELLO" : "OPEN sent twice");
      return;
    }
    overlay = catalog.find(o.name());
    if (overlay == null) {
      LOG.info("{}: overlay {} not found", remote(), o.name());
      closeWith(new Frame.Error(Frame.Error.NOT_FOUND, "overlay not found"));
      return;
    }
    LOG.debug("{}: opened {}", remote(), overlay.name());
    state = State.SERVING;
    scheduleSend();
  }

  private void onStream(Frame.Stream s) {
    if (state != State.SERVING) {
      badRequest("STREAM before OPEN");
      return;
    }
    int count = overlay.segmentCount();
    for (int i = 0; i < s.firsts().length; i++) {
      if (s.ends()[i] > count) {
        badRequest("STREAM range " + s.firsts()[i] + ".." + s.ends()[i] + " beyond the " + count + " segments");
        return;
      }
    }
    if (background.size() + s.firsts().length > MAX_QUEUED_RANGES) {
      badRequest("more than " + MAX_QUEUED_RANGES + " ranges queued");
      return;
    }
    for (int i = 0; i < s.firsts().length; i++) {
      if (s.firsts()[i] < s.ends()[i]) {
        background.add(new int[] {s.firsts()[i], s.ends()[i]});
      }
    }
    scheduleSend();
  }

  private void onDemand(Frame.Demand d) {
    if (state != State.SERVING) {
      badRequest("DEMAND before OPEN");
      return;
    }
    int seg = d.segment();
    if (seg >= overlay.segmentCount()) {
      badRequest("DEMAND of segment " + seg + " beyond the " + overlay.segmentCount() + " segments");
      return;
    }
    if (inDemandQueue.get(seg)) {
      return;
    }
    inDemandQueue.set(seg);
    claimed.set(seg);
    if (streaming != null && streaming.segment == seg) {
      demands.add(streaming);
      streaming = null;
    } else {
      demands.add(new Cursor(seg, 0));
    }
    scheduleSend();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    scheduleSend();
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof IdleStateEvent) {
      LOG.info("{}: idle, closing", remote());
      closeWith(new Frame.Error(Frame.Error.TIMEOUT, "idle connection closed"));
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (state == State.CLOSING) {
      return;
    }
    if (cause instanceof FrameCodecException) {
      badRequest("malformed frame: " + cause.getMessage());
    } else if (cause instanceof IOException) { // connection reset and the like: the client's business
      LOG.debug("{}: {}", remote(), cause.toString());
      state = State.CLOSING;
      ctx.close();
    } else {
      LOG.warn("{}: {}", remote(), cause.toString(), cause);
      closeWith(new Frame.Error(Frame.Error.IO, "server error"));
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    state = State.CLOSING;
    super.channelInactive(ctx);
  }

  private void badRequest(String reason) {
    LOG.warn("{}: bad request, closing: {}", remote(), reason);
    closeWith(new Frame.Error(Frame.Error.BAD_REQUEST, reason));
  }

  private void closeWith(Frame.Error error) {
    state = State.CLOSING;
    if (ctx.channel().isActive()) {
      ctx.writeAndFlush(error).addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
  }

  private String remote() {
    return String.valueOf(ctx.channel().remoteAddress());
  }

  // ---- the sender -------------------------------------------------------------------------------

  private void scheduleSend() {
    if (!sendQueued && !waitingForTokens && state == State.SERVING) {
      sendQueued = true;
      ctx.executor().execute(this::sendOne);
    }
  }

  /** Sends at most one part and, if there may be more to send, runs again later. */
  private void sendOne() {
    sendQueued = false;
    if (state != State.SERVING || !ctx.channel().isWritable() || (delayLine != null && delayLine.saturated())) {
      return; // channelWritabilityChanged re-arms
    }
    byte[] head = overlay.head();
    if (metaOffset < head.length) {
      int n = Math.min(Frame.MAX_PART, head.length - metaOffset);
      if (!tokens(n)) {
        return;
      }
      ByteBuf data = Unpooled.wrappedBuffer(head, metaOffset, n);
      ctx.writeAndFlush(new Frame.Meta(head.length, metaOffset, data));
      metaOffset += n;
      scheduleSend();
      return;
    }
    Cursor c = next();
    if (c == null) {
      return; // idle until a STREAM or DEMAND arrives
    }
    Segment s = overlay.segment(c.segment);
    int n = Math.min(Frame.MAX_PART, s.length() - c.offset);
    if (!tokens(n)) {
      return;
    }
    ByteBuf data = ctx.alloc().ioBuffer(Math.max(n, 1));
    try {
      long pos = s.fileOffset(overlay.header()) + c.offset;
      while (data.readableBytes() < n) {
        int got = data.writeBytes(overlay.channel(), pos + data.readableBytes(), n - data.readableBytes());
        if (got < 0) {
          throw new IOException("unexpected end of file");
        }
      }
    } catch (IOException e) {
      data.release();
      LOG.warn("{}: cannot read {} of {}: {}", remote(), s, overlay.name(), e.toString());
      closeWith(new Frame.Error(Frame.Error.IO, "cannot read segment " + c.segment));
      return;
    }
    ctx.writeAndFlush(new Frame.Part(c.segment, c.offset, data));
    c.offset += n;
    if (c.offset >= s.length()) {
      overlay.sent().incrementAndGet(c.segment);
      if (c == streaming) {
        streaming = null;
      } else {
        demands.poll();
        inDemandQueue.clear(c.segment);
      }
    }
    scheduleSend();
  }

  /** The cursor to send from: the first demand, else the background stream; null if none. */
  private Cursor next() {
    if (!demands.isEmpty()) {
      return demands.peek();
    }
    if (streaming != null) {
      return streaming;
    }
    while (!background.isEmpty()) {
      int[] r = background.peek();
      int seg = claimed.nextClearBit(r[0]);
      if (seg >= r[1]) {
        background.poll();
        continue;
      }
      r[0] = seg + 1;
      claimed.set(seg);
      streaming = new Cursor(seg, 0);
      return streaming;
    }
    return null;
  }

  /** Takes tokens for a frame carrying {@code n} bytes, or arranges to try again once there are. */
  private boolean tokens(int n) {
    long wait = limiter.tryAcquire(n + 13);
    if (wait == 0) {
      return true;
    }
    waitingForTokens = true;
    ctx.executor().schedule(() -> {
      waitingForTokens = false;
      sendOne();
    }, wait, TimeUnit.NANOSECONDS);
    return false;
  }
}
