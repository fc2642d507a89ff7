package io.earlystart.fetcher.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Bytes to {@link Frame}s. The length is checked against {@link Frame#MAX_LENGTH} before the body is
 * waited for (fail fast, nothing allocated for an oversized frame); every field is range-checked;
 * META and PART bodies are retained slices of the input, released by whoever handles the frame
 * last. A malformed frame raises {@link FrameCodecException} and the decoder discards everything
 * after it. One instance per channel (never {@code @Sharable}).
 */
public final class FrameDecoder extends ByteToMessageDecoder {
  private boolean failed;

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    while (in.readableBytes() >= Frame.LENGTH_FIELD) {
      long length = in.getUnsignedInt(in.readerIndex());
      if (length < 1 || length > Frame.MAX_LENGTH) {
        throw fail("frame length " + length + " outside [1, " + Frame.MAX_LENGTH + "]");
      }
      if (in.readableBytes() < Frame.LENGTH_FIELD + length) {
        return;
      }
      in.skipBytes(Frame.LENGTH_FIELD);
      ByteBuf body = in.readSlice((int) length);
      out.add(decodeBody(body));
    }
  }

  private Frame decodeBody(ByteBuf body) {
    int type = body.readUnsignedByte();
    Frame f = switch (type) {
      case Frame.HELLO -> {
        need(body, 8, "HELLO");
        if (body.readInt() != Frame.MAGIC) {
          throw fail("HELLO with a bad magic");
        }
        yield new Frame.Hello(body.readUnsignedShort(), body.readUnsignedShort());
      }
      case Frame.WELCOME -> {
        need(body, 6, "WELCOME");
        yield new Frame.Welcome(body.readUnsignedShort(), body.readInt());
      }
      case Frame.OPEN -> {
        if (body.readableBytes() < 1 || body.readableBytes() > 255) {
          throw fail("OPEN name of " + body.readableBytes() + " bytes");
        }
        yield new Frame.Open(body.readCharSequence(body.readableBytes(), StandardCharsets.UTF_8).toString());
      }
      case Frame.STREAM -> {
        need(body, 2, "STREAM");
        int count = body.readUnsignedShort();
        need(body, count * 8, "STREAM ranges");
        int[] firsts = new int[count];
        int[] ends = new int[count];
        for (int i = 0; i < count; i++) {
          firsts[i] = nonNegative(body.readInt(), "STREAM first");
          ends[i] = nonNegative(body.readInt(), "STREAM end");
          if (ends[i] < firsts[i]) {
            throw fail("STREAM range " + firsts[i] + ".." + ends[i] + " runs backwards");
          }
        }
        yield new Frame.Stream(firsts, ends);
      }
      case Frame.DEMAND -> {
        need(body, 4, "DEMAND");
        yield new Frame.Demand(nonNegative(body.readInt(), "DEMAND segment"));
      }
      case Frame.META -> {
        need(body, 8, "META");
        int total = nonNegative(body.readInt(), "META total");
        int offset = nonNegative(body.readInt(), "META offset");
        if ((long) offset + body.readableBytes() > total || body.readableBytes() > Frame.MAX_PART) {
          throw fail("META part " + offset + "+" + body.readableBytes() + " beyond its total " + total);
        }
        yield new Frame.Meta(total, offset, body.readRetainedSlice(body.readableBytes()));
      }
      case Frame.PART -> {
        need(body, 8, "PART");
        int segment = nonNegative(body.readInt(), "PART segment");
        int offset = nonNegative(body.readInt(), "PART offset");
        if (body.readableBytes() > Frame.MAX_PART) {
          throw fail("PART of " + body.readableBytes() + " bytes");
        }
        yield new Frame.Part(segment, offset, body.readRetainedSlice(body.readableBytes()));
      }
      case Frame.ERROR -> {
        need(body, 2, "ERROR");
        int code = body.readUnsignedShort();
        yield new Frame.Error(code, body.readCharSequence(body.readableBytes(), StandardCharsets.UTF_8).toString());
      }
      default -> throw fail("unknown frame type 0x" + Integer.toHexString(type));
    };
    if (body.isReadable()) {
      if (f instanceof io.netty.util.ReferenceCounted rc) {
        rc.release();
      }
      throw fail("frame type 0x" + Integer.toHexString(type) + " has " + body.readableBytes() + " extra bytes");
    }
    return f;
  }

  private void need(ByteBuf body, int bytes, String what) {
    if (body.readableBytes() < bytes) {
      throw fail(what + " frame too short (" + body.readableBytes() + " < " + bytes + " bytes)");
    }
  }

  private int nonNegative(int v, String what) {
    if (v < 0) {
      throw fail(what + " " + Integer.toUnsignedString(v) + " out of range");
    }
    return v;
  }

  private FrameCodecException fail(String reason) {
    failed = true;
    return new FrameCodecException(reason);
  }
}
