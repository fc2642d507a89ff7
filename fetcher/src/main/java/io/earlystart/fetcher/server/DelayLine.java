package io.earlystart.fetcher.server;

import io.earlystart.fetcher.protocol.Frame;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * Adds a fixed one-way latency in both directions ({@code --delay}): every inbound frame reaches the
 * next handler {@code delay} after it arrived, every outbound frame is written {@code delay} after it
 * was sent, in order. Like the propagation delay of a real link, frames in the line do not slow down
 * the frames behind them; the rate limit sits before it.
 *
 * <p>Bounded: while more than {@code maxInFlight} bytes of outbound frames are in the line, {@link
 * #saturated()} is true, and the handler behind is told by a {@code channelWritabilityChanged} when
 * the line has room again. Frames still in the line when the channel closes are released. One instance
 * per channel, used from its event loop only.
 */
final class DelayLine extends ChannelDuplexHandler {
  private record Out(long due, Object msg, ChannelPromise promise, int bytes) {}

  private record In(long due, Object msg) {}

  private final long delayNanos;
  private final long maxInFlight;
  private final ArrayDeque<Out> outbound = new ArrayDeque<>();
  private final ArrayDeque<In> inbound = new ArrayDeque<>();
  private long outboundBytes;
  private boolean wasSaturated;
  private boolean closed;

  DelayLine(long delayNanos, long maxInFlight) {
    this.delayNanos = delayNanos;
    this.maxInFlight = maxInFlight;
  }

  boolean saturated() {
    return outboundBytes >= maxInFlight;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (closed) {
      ReferenceCountUtil.release(msg);
      return;
    }
    inbound.add(new In(System.nanoTime() + delayNanos, msg));
    if (inbound.size() == 1) {
      ctx.executor().schedule(() -> drainInbound(ctx), delayNanos, TimeUnit.NANOSECONDS);
    }
  }

  private void drainInbound(ChannelHandlerContext ctx) {
    long now = System.nanoTime();
    while (!inbound.isEmpty() && inbound.peek().due() - now <= 0) {
      ctx.fireChannelRead(inbound.poll().msg());
    }
    if (!inbound.isEmpty()) {
      ctx.executor().schedule(() -> drainInbound(ctx), inbound.peek().due() - now, TimeUnit.NANOSECONDS);
    }
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (closed) {
      ReferenceCountUtil.release(msg);
      promise.tryFailure(new ClosedChannelException());
      return;
    }
    int bytes = size(msg);
    outbound.add(new Out(System.nanoTime() + delayNanos, msg, promise, bytes));
    outboundBytes += bytes;
    if (saturated()) {
      wasSaturated = true;
    }
    if (outbound.size() == 1) {
      ctx.executor().schedule(() -> drainOutbound(ctx), delayNanos, TimeUnit.NANOSECONDS);
    }
  }

  @Override
  public void flush(ChannelHandlerContext ctx) {
    // every frame is flushed when it leaves the line
  }

  private void drainOutbound(ChannelHandlerContext ctx) {
    long now = System.nanoTime();
    boolean wrote = false;
    while (!outbound.isEmpty() && outbound.peek().due() - now <= 0) {
      Out o = outbound.poll();
      outboundBytes -= o.bytes();
      ctx.write(o.msg(), o.promise());
      wrote = true;
    }
    if (wrote) {
      ctx.flush();
    }
    if (!outbound.isEmpty()) {
      ctx.executor().schedule(() -> drainOutbound(ctx), outbound.peek().due() - now, TimeUnit.NANOSECONDS);
    }
    if (wasSaturated && !saturated()) {
      wasSaturated = false;
      ctx.fireChannelWritabilityChanged();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    discard();
    super.channelInactive(ctx);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    discard();
  }

  private void discard() {
    closed = true;
    while (!inbound.isEmpty()) {
      ReferenceCountUtil.release(inbound.poll().msg());
    }
    while (!outbound.isEmpty()) {
      Out o = outbound.poll();
      ReferenceCountUtil.release(o.msg());
      o.promise().tryFailure(new ClosedChannelException());
    }
    outboundBytes = 0;
  }

  private static int size(Object msg) {
    if (msg instanceof Frame.Part p) {
      return 13 + p.data().readableBytes();
    }
    if (msg instanceof Frame.Meta m) {
      return 13 + m.data().readableBytes();
    }
    return 16;
  }
}
