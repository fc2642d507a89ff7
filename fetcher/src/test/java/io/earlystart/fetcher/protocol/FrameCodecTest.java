package io.earlystart.fetcher.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.EncoderException;
import io.netty.util.ReferenceCounted;
import io.netty.util.ResourceLeakDetector;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link FrameEncoder} and {@link FrameDecoder} through {@link EmbeddedChannel}s: round trips, input
 * split at every byte boundary, malformed and random input. Every buffer written to a decoder is
 * checked to be released once the channel is finished, so a leaked META or PART slice fails the test
 * (it pins the cumulation buffer it was sliced from).
 */
class FrameCodecTest {
  private final List<ByteBuf> written = new ArrayList<>();

  @BeforeAll
  static void paranoid() {
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
  }

  @AfterEach
  void everyInputReleased() {
    for (ByteBuf b : written) {
      assertEquals(0, b.refCnt(), "an input buffer was not released: a decoded slice leaked");
    }
  }

  // ---- round trips ------------------------------------------------------------------------------

  @Test
  void everyFrameTypeRoundTrips() {
    List<Object> expected = new ArrayList<>();
    List<Frame> frames = sampleFrames(expected);
    byte[] wire = encode(frames);
    assertEquals(expected, decode(wire, new int[0]));
  }

  @Test
  void metaAndPartPayloadsOf0And1And65536Bytes() {
    Random r = new Random(7);
    for (int size : new int[] {0, 1, Frame.MAX_PART}) {
      byte[] payload = new byte[size];
      r.nextBytes(payload);
      List<Object> expected = List.of(plain("META", Frame.MAX_PART * 2, Frame.MAX_PART, payload),
          plain("PART", 12, 65536 * 3, payload));
      byte[] wire = encode(List.of(new Frame.Meta(Frame.MAX_PART * 2, Frame.MAX_PART, Unpooled.wrappedBuffer(payload)),
          new Frame.Part(12, 65536 * 3, Unpooled.wrappedBuffer(payload))));
      assertEquals(2 * (4 + 1 + 8 + size), wire.length);
      assertEquals(expected, decode(wire, new int[0]), "payload of " + size);
    }
  }

  @Test
  void largestPayloadOneByteAtATime() {
    byte[] payload = new byte[Frame.MAX_PART];
    new Random(8).nextBytes(payload);
    byte[] wire = encode(List.of(new Frame.Part(Integer.MAX_VALUE, Integer.MAX_VALUE, Unpooled.wrappedBuffer(payload))));
    assertEquals(List.of(plain("PART", Integer.MAX_VALUE, Integer.MAX_VALUE, payload)), decodeBytewise(wire));
  }

  @Test
  void wireFormatOfDemandIsAsDocumented() {
    assertArrayEquals(new byte[] {0, 0, 0, 5, 0x04, 0x01, 0x02, 0x03, 0x04},
        encode(List.of(new Frame.Demand(0x01020304))));
  }

  @Test
  void longErrorMessageIsCutAtACharacterBoundary() {
    String msg = "é".repeat(1000); // 2000 bytes of UTF-8
    List<Object> got = decode(encode(List.of(new Frame.Error(Frame.Error.IO, msg))), new int[0]);
    Frame.Error e = (Frame.Error) got.get(0);
    assertEquals(msg.substring(0, FrameEncoder.MAX_ERROR_MESSAGE / 2), e.message());
  }

  @Test
  void encoderRefusesFramesTheDecoderWouldReject() {
    EmbeddedChannel enc = new EmbeddedChannel(FrameEncoder.INSTANCE);
    ByteBuf big = Unpooled.buffer(Frame.MAX_PART + 1).writeZero(Frame.MAX_PART + 1);
    assertThrows(EncoderException.class, () -> enc.writeOutbound(new Frame.Part(0, 0, big)));
    assertEquals(0, big.refCnt(), "the refused frame is released");
    assertThrows(EncoderException.class, () -> enc.writeOutbound(new Frame.Open("")));
    assertThrows(EncoderException.class, () -> enc.writeOutbound(new Frame.Open("x".repeat(256))));
    int n = Frame.Stream.MAX_RANGES + 1;
    assertThrows(EncoderException.class, () -> enc.writeOutbound(new Frame.Stream(new int[n], new int[n])));
    assertFalse(enc.finish());
  }

  @Test
  void fullestStreamFrameFits() {
    int n = Frame.Stream.MAX_RANGES;
    int[] firsts = new int[n];
    int[] ends = new int[n];
    for (int i = 0; i < n; i++) {
      firsts[i] = 2 * i;
      ends[i] = 2 * i + 1;
    }
    Frame.Stream s = new Frame.Stream(firsts, ends);
    assertEquals(List.of(s), decode(encode(List.of(s)), new int[0]));
  }

  // ---- splits -----------------------------------------------------------------------------------

  @Test
  void splitAtEveryByteBoundary() {
    List<Object> expected = new ArrayList<>();
    byte[] wire = encode(sampleFrames(expected));
    for (int i = 0; i <= wire.length; i++) {
      assertEquals(expected, decode(wire, new int[] {i}), "split at " + i);
    }
    Random r = new Random(3);
    for (int k = 0; k < 200; k++) {
      int[] cuts = r.ints(1 + r.nextInt(8), 0, wire.length + 1).sorted().toArray();
      assertEquals(expected, decode(wire, cuts), "split at " + Arrays.toString(cuts));
    }
  }

  @Test
  void oneByteAtATime() {
    List<Object> expected = new ArrayList<>();
    byte[] wire = encode(sampleFrames(expected));
    assertEquals(expected, decodeBytewise(wire));
  }

  // ---- malformed --------------------------------------------------------------------------------

  @Test
  void lengthZero() {
    assertMalformed(bytes(0, 0, 0, 0), "frame length 0");
  }

  @Test
  void lengthOverMaximumFailsAsSoonAsTheLengthArrives() {
    long tooLong = Frame.MAX_LENGTH + 1L;
    byte[] len = ByteBuffer.allocate(4).putInt((int) tooLong).array();
    EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
    assertFalse(ch.writeInbound(in(Arrays.copyOf(len, 3))));
    FrameCodecException e = assertThrows(FrameCodecException.class, () -> ch.writeInbound(in(new byte[] {len[3]})));
    assertTrue(e.getMessage().contains("frame length " + tooLong), e.getMessage());
    assertFalse(ch.finish());
    assertMalformed(bytes(0xff, 0xff, 0xff, 0xff), "frame length 4294967295");
  }

  @Test
  void lengthExactlyMaximumIsAccepted() {
    byte[] msg = new byte[Frame.MAX_LENGTH - 3];
    Arrays.fill(msg, (byte) 'x');
    ByteBuf b = Unpooled.buffer().writeInt(Frame.MAX_LENGTH).writeByte(Frame.ERROR).writeShort(9).writeBytes(msg);
    List<Object> got = decode(toArray(b), new int[0]);
    assertEquals(List.of(new Frame.Error(9, new String(msg, StandardCharsets.US_ASCII))), got);
  }

  @Test
  void unknownType() {
    assertMalformed(bytes(0, 0, 0, 1, 0x05), "unknown frame type 0x5");
    assertMalformed(bytes(0, 0, 0, 1, 0x80), "unknown frame type 0x80");
    assertMalformed(bytes(0, 0, 0, 1, 0xff), "unknown frame type 0xff");
  }

  @Test
  void truncatedFixedFields() {
    assertMalformed(bytes(0, 0, 0, 8, 0x01, 0x45, 0x53, 0x50, 0x31, 0, 1, 0), "HELLO frame too short");
    assertMalformed(bytes(0, 0, 0, 6, 0x81, 0, 1, 0, 1, 0), "WELCOME frame too short");
    assertMalformed(bytes(0, 0, 0, 1, 0x02), "OPEN name of 0 bytes");
    assertMalformed(bytes(0, 0, 0, 2, 0x03, 0), "STREAM frame too short");
    assertMalformed(bytes(0, 0, 0, 10, 0x03, 0, 1, 0, 0, 0, 0, 0, 0, 0), "STREAM ranges frame too short");
    assertMalformed(bytes(0, 0, 0, 4, 0x04, 0, 0, 1), "DEMAND frame too short");
    assertMalformed(bytes(0, 0, 0, 8, 0x82, 0, 0, 0, 9, 0, 0, 0), "META frame too short");
    assertMalformed(bytes(0, 0, 0, 5, 0x83, 0, 0, 0, 9), "PART frame too short");
    assertMalformed(bytes(0, 0, 0, 2, 0x84, 0), "ERROR frame too short");
  }

  @Test
  void trailingBytes() {
    assertMalformed(bytes(0, 0, 0, 6, 0x04, 0, 0, 0, 1, 9), "1 extra bytes");
    assertMalformed(bytes(0, 0, 0, 11, 0x01, 0x45, 0x53, 0x50, 0x31, 0, 1, 0, 1, 7, 7), "2 extra bytes");
    assertMalformed(bytes(0, 0, 0, 8, 0x81, 0, 1, 0, 1, 0, 0, 7), "1 extra bytes");
    assertMalformed(bytes(0, 0, 0, 12, 0x03, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 3), "1 extra bytes");
  }

  @Test
  void tooLongOpenName() {
    ByteBuf b = Unpooled.buffer().writeInt(257).writeByte(Frame.OPEN).writeZero(256);
    assertMalformed(toArray(b), "OPEN name of 256 bytes");
  }

  @Test
  void badHelloMagic() {
    assertMalformed(bytes(0, 0, 0, 9, 0x01, 0x45, 0x53, 0x50, 0x32, 0, 1, 0, 1), "bad magic");
  }

  @Test
  void negativeSegmentOrOffset() {
    assertMalformed(bytes(0, 0, 0, 5, 0x04, 0x80, 0, 0, 0), "DEMAND segment 2147483648 out of range");
    assertMalformed(bytes(0, 0, 0, 10, 0x83, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1), "PART segment");
    assertMalformed(bytes(0, 0, 0, 10, 0x83, 0, 0, 0, 1, 0x80, 0, 0, 0, 1), "PART offset");
    assertMalformed(bytes(0, 0, 0, 10, 0x82, 0x80, 0, 0, 0, 0, 0, 0, 0, 1), "META total");
    assertMalformed(bytes(0, 0, 0, 10, 0x82, 0, 0, 0, 9, 0x80, 0, 0, 0, 1), "META offset");
    assertMalformed(bytes(0, 0, 0, 11, 0x03, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 1), "STREAM first");
    assertMalformed(bytes(0, 0, 0, 11, 0x03, 0, 1, 0, 0, 0, 0, 0x80, 0, 0, 1), "STREAM end");
  }

  @Test
  void streamRangeBackwards() {
    assertMalformed(bytes(0, 0, 0, 11, 0x03, 0, 1, 0, 0, 0, 5, 0, 0, 0, 4), "runs backwards");
    // an empty range [5, 5) is fine
    assertEquals(List.of(new Frame.Stream(new int[] {5}, new int[] {5})),
        decode(bytes(0, 0, 0, 11, 0x03, 0, 1, 0, 0, 0, 5, 0, 0, 0, 5), new int[0]));
  }

  @Test
  void metaBeyondItsTotal() {
    assertMalformed(bytes(0, 0, 0, 11, 0x82, 0, 0, 0, 9, 0, 0, 0, 8, 1, 2), "beyond its total 9");
    assertMalformed(bytes(0, 0, 0, 10, 0x82, 0, 0, 0, 0, 0, 0, 0, 0, 1), "beyond its total 0");
    // exactly up to the total is fine
    assertEquals(List.of(plain("META", 9, 7, new byte[] {1, 2})),
        decode(bytes(0, 0, 0, 11, 0x82, 0, 0, 0, 9, 0, 0, 0, 7, 1, 2), new int[0]));
  }

  @Test
  void partOverMaximumPayload() {
    ByteBuf b = Unpooled.buffer().writeInt(9 + Frame.MAX_PART + 1).writeByte(Frame.PART).writeInt(0).writeInt(0)
        .writeZero(Frame.MAX_PART + 1);
    assertMalformed(toArray(b), "PART of 65537 bytes");
  }

  @Test
  void framesBeforeTheBadOneArriveAndNothingAfterIt() {
    byte[] good = encode(List.of(new Frame.Demand(1), new Frame.Part(2, 3, Unpooled.wrappedBuffer(new byte[] {4}))));
    byte[] bad = bytes(0, 0, 0, 1, 0x77);
    byte[] more = encode(List.of(new Frame.Demand(5)));
    EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
    assertThrows(FrameCodecException.class, () -> ch.writeInbound(in(concat(good, bad, more))));
    assertEquals(List.of(new Frame.Demand(1), plain("PART", 2, 3, new byte[] {4})), drain(ch));
    ch.writeInbound(in(more)); // discarded, no second exception
    assertEquals(List.of(), drain(ch));
    assertFalse(ch.finish());
  }

  @Test
  void truncatedLastFrameYieldsNothingOnClose() {
    byte[] wire = encode(List.of(new Frame.Demand(1), new Frame.Part(2, 3, Unpooled.wrappedBuffer(new byte[] {4, 5}))));
    EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
    ch.writeInbound(in(Arrays.copyOf(wire, wire.length - 1)));
    assertEquals(List.of(new Frame.Demand(1)), drain(ch));
    assertFalse(ch.finish());
  }

  // ---- random input -----------------------------------------------------------------------------

  @Test
  void randomBytesOnlyDecodeOrFailCleanly() {
    Random r = new Random(20261124L);
    int failures = 0;
    int frames = 0;
    for (int k = 0; k < 3000; k++) {
      byte[] b = new byte[r.nextInt(48)];
      r.nextBytes(b);
      if (b.length >= 5 && r.nextInt(4) != 0) {
        // a plausible length and a known type, so that bodies get decoded too
        int len = 1 + r.nextInt(b.length - 4);
        b[0] = 0;
        b[1] = 0;
        b[2] = 0;
        b[3] = (byte) len;
        int[] types = {0x01, 0x02, 0x03, 0x04, 0x81, 0x82, 0x83, 0x84};
        b[4] = (byte) types[r.nextInt(types.length)];
      }
      int[] result = feedRandomly(b, r);
      frames += result[0];
      failures += result[1];
    }
    assertTrue(failures > 100 && frames > 100, failures + " failures, " + frames + " frames");
  }

  @Test
  void mutatedValidStreamsOnlyDecodeOrFailCleanly() {
    List<Object> expected = new ArrayList<>();
    byte[] wire = encode(sampleFrames(expected));
    Random r = new Random(42);
    for (int k = 0; k < 2000; k++) {
      byte[] b = wire.clone();
      for (int flips = 1 + r.nextInt(3); flips > 0; flips--) {
        b[r.nextInt(b.length)] ^= (byte) (1 + r.nextInt(255));
      }
      feedRandomly(b, r);
    }
  }

  /** Feeds {@code b} in random pieces; returns {frames decoded, 1 if it failed}. */
  private int[] feedRandomly(byte[] b, Random r) {
    EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
    int frames = 0;
    int failed = 0;
    int at = 0;
    while (at < b.length) {
      int n = 1 + r.nextInt(b.length - at);
      try {
        ch.writeInbound(in(Arrays.copyOfRange(b, at, at + n)));
      } catch (FrameCodecException e) {
        failed = 1;
      } catch (RuntimeException e) {
        fail("only FrameCodecException may escape the decoder", e);
      }
      at += n;
    }
    for (Object o; (o = ch.readInbound()) != null; ) {
      assertInstanceOf(Frame.class, o);
      plain(o);
      frames++;
    }
    assertFalse(ch.finish());
    return new int[] {frames, failed};
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** One frame of every type (small payloads), and their plain forms in {@code expected}. */
  private static List<Frame> sampleFrames(List<Object> expected) {
    byte[] meta = "header and manifest".getBytes(StandardCharsets.US_ASCII);
    byte[] part = {1, 2, 3, (byte) 0xff};
    List<Frame> frames = new ArrayList<>();
    frames.add(new Frame.Hello(1, 65535));
    frames.add(new Frame.Welcome(1, Frame.MAX_LENGTH));
    frames.add(new Frame.Open("ünicode-name.esov"));
    frames.add(new Frame.Open("0".repeat(64)));
    frames.add(new Frame.Stream(new int[0], new int[0]));
    frames.add(new Frame.Stream(new int[] {0, 10, Integer.MAX_VALUE - 1}, new int[] {3, 10, Integer.MAX_VALUE}));
    frames.add(new Frame.Demand(0));
    frames.add(new Frame.Demand(Integer.MAX_VALUE));
    frames.add(new Frame.Error(Frame.Error.NOT_FOUND, "no overlay called x"));
    frames.add(new Frame.Error(65535, ""));
    for (Frame f : frames) {
      expected.add(f);
    }
    frames.add(new Frame.Meta(100, 0, Unpooled.wrappedBuffer(meta)));
    expected.add(plain("META", 100, 0, meta));
    frames.add(new Frame.Meta(0, 0, Unpooled.EMPTY_BUFFER));
    expected.add(plain("META", 0, 0, new byte[0]));
    frames.add(new Frame.Part(7, 0, Unpooled.wrappedBuffer(part)));
    expected.add(plain("PART", 7, 0, part));
    frames.add(new Frame.Part(7, 4, Unpooled.EMPTY_BUFFER));
    expected.add(plain("PART", 7, 4, new byte[0]));
    return frames;
  }

  /** Encodes through an {@link EmbeddedChannel} with the {@link FrameEncoder}; the result as bytes. */
  private static byte[] encode(List<Frame> frames) {
    EmbeddedChannel enc = new EmbeddedChannel(FrameEncoder.INSTANCE);
    for (Frame f : frames) {
      enc.writeOutbound(f);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (ByteBuf b; (b = enc.readOutbound()) != null; ) {
      out.writeBytes(toArray(b));
    }
    assertFalse(enc.finish());
    return out.toByteArray();
  }

  /** Decodes {@code wire} written in pieces cut at the sorted offsets {@code cuts}. */
  private List<Object> decode(byte[] wire, int[] cuts) {
    EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
    int from = 0;
    for (int cut : cuts) {
      ch.writeInbound(in(Arrays.copyOfRange(wire, from, cut)));
      from = cut;
    }
    ch.writeInbound(in(Arrays.copyOfRange(wire, from, wire.length)));
    List<Object> got = drain(ch);
    assertFalse(ch.finish());
    return got;
  }

  private List<Object> decodeBytewise(byte[] wire) {
    EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
    List<Object> got = new ArrayList<>();
    for (byte b : wire) {
      ch.writeInbound(in(new byte[] {b}));
      got.addAll(drain(ch));
    }
    assertFalse(ch.finish());
    return got;
  }

  private void assertMalformed(byte[] wire, String message) {
    for (int[] cuts : new int[][] {{}, {Math.min(4, wire.length)}}) {
      EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
      FrameCodecException e = assertThrows(FrameCodecException.class, () -> {
        int from = 0;
        for (int cut : cuts) {
          ch.writeInbound(in(Arrays.copyOfRange(wire, from, cut)));
          from = cut;
        }
        ch.writeInbound(in(Arrays.copyOfRange(wire, from, wire.length)));
      });
      assertTrue(e.getMessage().contains(message), "'" + e.getMessage() + "' should contain '" + message + "'");
      assertEquals(List.of(), drain(ch));
      assertFalse(ch.finish());
    }
  }

  /** Reads every decoded frame, replacing META and PART by plain values and releasing them. */
  private static List<Object> drain(EmbeddedChannel ch) {
    List<Object> got = new ArrayList<>();
    for (Object o; (o = ch.readInbound()) != null; ) {
      got.add(plain(o));
    }
    return got;
  }

  private static Object plain(Object o) {
    if (o instanceof Frame.Meta m) {
      return plain("META", m.total(), m.offset(), release(m, m.data()));
    }
    if (o instanceof Frame.Part p) {
      return plain("PART", p.segment(), p.offset(), release(p, p.data()));
    }
    assertFalse(o instanceof ReferenceCounted, "unexpected reference-counted " + o);
    return o;
  }

  private static byte[] release(ReferenceCounted frame, ByteBuf data) {
    byte[] b = new byte[data.readableBytes()];
    data.getBytes(data.readerIndex(), b);
    frame.release();
    return b;
  }

  private static List<Object> plain(String type, int a, int b, byte[] payload) {
    return List.of(type, a, b, ByteBuffer.wrap(payload));
  }

  /** A heap buffer for the decoder, remembered so that its release can be checked. */
  private ByteBuf in(byte[] b) {
    ByteBuf buf = Unpooled.buffer(b.length).writeBytes(b);
    written.add(buf);
    return buf;
  }

  private static byte[] toArray(ByteBuf b) {
    byte[] a = new byte[b.readableBytes()];
    b.readBytes(a);
    b.release();
    return a;
  }

  private static byte[] bytes(int... v) {
    byte[] b = new byte[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = (byte) v[i];
    }
    return b;
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }
}
