package io.earlystart.fetcher.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;
import java.util.Arrays;

/**
 * The frames of protocol v1 (fetcher/PROTOCOL.md). Every frame on the wire is
 *
 * <pre>
 * +----------------+--------+----------------------+
 * | length: u32 BE | type:u8| body (length-1 bytes) |
 * +----------------+--------+----------------------+
 * </pre>
 *
 * with {@code 1 <= length <= MAX_LENGTH}, checked before anything is allocated. Immutable, except
 * that {@link Meta} and {@link Part} own a retained {@link ByteBuf}: whoever handles one last
 * releases it.
 */
public sealed interface Frame {
  /** Bytes of the {@code length} field before every frame. */
  int LENGTH_FIELD = 4;
  /** Largest {@code length} field accepted: a 64 KiB part plus its fixed fields and some room. */
  int MAX_LENGTH = (64 << 10) + 64;
  /** Largest payload of a META or PART frame. */
  int MAX_PART = 64 << 10;
  int MAGIC = 0x45535031; // "ESP1"
  int VERSION = 1;

  int HELLO = 0x01;
  int OPEN = 0x02;
  int STREAM = 0x03;
  int DEMAND = 0x04;
  int WELCOME = 0x81;
  int META = 0x82;
  int PART = 0x83;
  int ERROR = 0x84;

  /** Client, first frame: {@code magic:u32 minVersion:u16 maxVersion:u16}. */
  record Hello(int minVersion, int maxVersion) implements Frame {
    /** The {@code length} of every HELLO: type, magic and two versions. */
    public static final int LENGTH = 1 + 4 + 2 + 2;
  }

  /** Server, answer to HELLO: {@code version:u16 maxLength:u32}. */
  record Welcome(int version, int maxLength) implements Frame {
    /** The {@code length} of every WELCOME: type, version and max length. */
    public static final int LENGTH = 1 + 2 + 4;
  }

  /** Client: the overlay by file name in the served directory or by id (64 hex digits): {@code name:utf8}. */
  record Open(String name) implements Frame {}

  /**
   * Server: part of the overlay's head (everything before the first segment: header, stored manifest and
   * attachments, {@code total} bytes in
   * all): {@code total:u32 offset:u32 bytes}.
   */
  record Meta(int total, int offset, ByteBuf data) implements Frame, ReferenceCounted {
    /** The {@code length} of a META without its data: type, total and offset. */
    public static final int FIXED_LENGTH = 1 + 4 + 4;

    @Override public int refCnt() { return data.refCnt(); }
    @Override public Meta retain() { data.retain(); return this; }
    @Override public Meta retain(int n) { data.retain(n); return this; }
    @Override public Meta touch() { data.touch(); return this; }
    @Override public Meta touch(Object hint) { data.touch(hint); return this; }
    @Override public boolean release() { return data.release(); }
    @Override public boolean release(int n) { return data.release(n); }
  }

  /**
   * Client: append segment ranges {@code [first, end)} to the background stream, in the order given:
   * {@code count:u16 (first:u32 end:u32){count}}.
   */
  record Stream(int[] firsts, int[] ends) implements Frame {
    /** Most ranges one STREAM can carry within {@link Frame#MAX_LENGTH}; send more in several frames. */
    public static final int MAX_RANGES = (MAX_LENGTH - length(0)) / 8;

    /** The {@code length} of a STREAM of {@code ranges} ranges: type, count and the ranges. */
    public static int length(int ranges) {
      return 1 + 2 + 8 * ranges;
    }

    public Stream {
      if (firsts.length != ends.length) {
        throw new IllegalArgumentException("firsts and ends differ in length");
      }
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Stream s && Arrays.equals(s.firsts, firsts) && Arrays.equals(s.ends, ends);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(firsts) * 31 + Arrays.hashCode(ends);
    }

    @Override
    public String toString() {
      return "Stream[" + Arrays.toString(firsts) + " .. " + Arrays.toString(ends) + "]";
    }
  }

  /** Client: send this segment now, ahead of the background stream: {@code segment:u32}. */
  record Demand(int segment) implements Frame {
    /** The {@code length} of every DEMAND: type and segment. */
    public static final int LENGTH = 1 + 4;
  }

  /** Server: bytes {@code [offset, offset + data)} of a segment's frame: {@code segment:u32 offset:u32 bytes}. */
  record Part(int segment, int offset, ByteBuf data) implements Frame, ReferenceCounted {
    /** The {@code length} of a PART without its data: type, segment and offset. */
    public static final int FIXED_LENGTH = 1 + 4 + 4;

    @Override public int refCnt() { return data.refCnt(); }
    @Override public Part retain() { data.retain(); return this; }
    @Override public Part retain(int n) { data.retain(n); return this; }
    @Override public Part touch() { data.touch(); return this; }
    @Override public Part touch(Object hint) { data.touch(hint); return this; }
    @Override public boolean release() { return data.release(); }
    @Override public boolean release(int n) { return data.release(n); }
  }

  /** Server, last frame before it closes: {@code code:u16 message:utf8}. */
  record Error(int code, String message) implements Frame {
    public static final int UNSUPPORTED_VERSION = 1;
    public static final int NOT_FOUND = 2;
    public static final int BAD_REQUEST = 3;
    public static final int IO = 4;
    public static final int TIMEOUT = 5;
  }
}
