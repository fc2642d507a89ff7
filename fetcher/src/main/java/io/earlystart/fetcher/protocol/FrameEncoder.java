package io.earlystart.fetcher.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * {@link Frame}s to bytes. META and PART payloads are not copied: the fixed fields go in a small
 * buffer and the payload follows as its own buffer (released by the transport once written).
 * Stateless, hence sharable.
 */
@ChannelHandler.Sharable
public final class FrameEncoder extends MessageToMessageEncoder<Frame> {
  public static final FrameEncoder INSTANCE = new FrameEncoder();
  /** Longest ERROR message sent, in UTF-8 bytes (cut at a character boundary). */
  static final int MAX_ERROR_MESSAGE = 1024;

  @Override
  protected void encode(ChannelHandlerContext ctx, Frame f, List<Object> out) {
    check(f);
    ByteBuf head = ctx.alloc().buffer(32);
    if (f instanceof Frame.Meta m) {
      head.writeInt(Frame.Meta.FIXED_LENGTH + m.data().readableBytes()).writeByte(Frame.META).writeInt(m.total())
          .writeInt(m.offset());
      out.add(head);
      out.add(m.data().retain());
      return;
    }
    if (f instanceof Frame.Part p) {
      head.writeInt(Frame.Part.FIXED_LENGTH + p.data().readableBytes()).writeByte(Frame.PART).writeInt(p.segment())
          .writeInt(p.offset());
      out.add(head);
      out.add(p.data().retain());
      return;
    }
    if (f instanceof Frame.Hello h) {
      head.writeInt(Frame.Hello.LENGTH).writeByte(Frame.HELLO).writeInt(Frame.MAGIC).writeShort(h.minVersion())
          .writeShort(h.maxVersion());
    } else if (f instanceof Frame.Welcome w) {
      head.writeInt(Frame.Welcome.LENGTH).writeByte(Frame.WELCOME).writeShort(w.version()).writeInt(w.maxLength());
    } else if (f instanceof Frame.Open o) {
      byte[] name = o.name().getBytes(StandardCharsets.UTF_8);
      head.writeInt(1 + name.length).writeByte(Frame.OPEN).writeBytes(name);
    } else if (f instanceof Frame.Stream s) {
      head.writeInt(Frame.Stream.length(s.firsts().length)).writeByte(Frame.STREAM).writeShort(s.firsts().length);
      for (int i = 0; i < s.firsts().length; i++) {
        head.writeInt(s.firsts()[i]).writeInt(s.ends()[i]);
      }
    } else if (f instanceof Frame.Demand d) {
      head.writeInt(Frame.Demand.LENGTH).writeByte(Frame.DEMAND).writeInt(d.segment());
    } else if (f instanceof Frame.Error e) {
      byte[] msg = e.message().getBytes(StandardCharsets.UTF_8);
      int n = Math.min(msg.length, MAX_ERROR_MESSAGE);
      while (n < msg.length && n > 0 && (msg[n] & 0xC0) == 0x80) {
        n--; // do not cut a multi-byte character in two
      }
      head.writeInt(1 + 2 + n).writeByte(Frame.ERROR).writeShort(e.code()).writeBytes(msg, 0, n);
    } else {
      head.release();
      throw new IllegalArgumentException("unknown frame " + f);
    }
    out.add(head);
  }

  /** Refuses frames the peer's decoder would reject, so that the sender, not the receiver, fails. */
  private static void check(Frame f) {
    if (f instanceof Frame.Meta m && m.data().readableBytes() > Frame.MAX_PART
        || f instanceof Frame.Part p && p.data().readableBytes() > Frame.MAX_PART) {
      throw new IllegalArgumentException("payload over " + Frame.MAX_PART + " bytes: " + f);
    }
    if (f instanceof Frame.Open o) {
      int n = o.name().getBytes(StandardCharsets.UTF_8).length;
      if (n < 1 || n > 255) {
        throw new IllegalArgumentException("OPEN name of " + n + " bytes (1..255)");
      }
    }
    if (f instanceof Frame.Stream s && s.firsts().length > Frame.Stream.MAX_RANGES) {
      throw new IllegalArgumentException("STREAM of " + s.firsts().length + " ranges, at most "
          + Frame.Stream.MAX_RANGES + " per frame");
    }
  }
}
