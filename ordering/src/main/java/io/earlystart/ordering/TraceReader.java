package io.earlystart.ordering;

import static io.earlystart.ordering.TraceFormat.HEADER_BYTES;
import static io.earlystart.ordering.TraceFormat.RECORD_BYTES;

import io.earlystart.overlay.io.Hex;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Parses one trace file front to back through a 64 KiB window; used once by {@link Trace#read}.
 * Not thread-safe; owns and closes its channel.
 */
final class TraceReader implements AutoCloseable {
  private final Path file;
  private final String source;
  private final FileChannel channel;
  private final long fileSize;
  private final ByteBuffer window = ByteBuffer.allocate(64 * 1024);
  private long windowStart; // file offset of window index 0
  private int pos; // parse position in window; valid bytes are [pos, window.limit())

  TraceReader(Path file) throws IOException {
    this.file = file;
    this.source = file.toString();
    this.channel = FileChannel.open(file, StandardOpenOption.READ);
    this.fileSize = channel.size();
    window.limit(0);
  }

  Trace read() throws IOException {
    if (!ensure(HEADER_BYTES)) {
      throw new CorruptTraceException(source, -1,
          "not a trace: " + fileSize + " bytes, shorter than the " + HEADER_BYTES + "-byte header");
    }
    byte[] header = new byte[HEADER_BYTES];
    window.get(pos, header);
    long start = checkHeader(ByteBuffer.wrap(header));
    pos += HEADER_BYTES;

    long capacity = (fileSize - HEADER_BYTES) / RECORD_BYTES;
    if (capacity > Integer.MAX_VALUE - 8) {
      throw new CorruptTraceException(source, -1, "too large for one trace: " + fileSize + " bytes");
    }
    long[] nanos = new long[(int) capacity];
    byte[] images = new byte[(int) capacity];
    int[] chunks = new int[(int) capacity];
    int size = 0;
    Map<String, Long> marks = new LinkedHashMap<>();
    CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder();
    long ignored = 0;
    while (ensure(1)) {
      long offset = windowStart + pos;
      int kind = window.get(pos) & 0xff;
      if (kind == TraceFormat.KIND_TOUCH || kind == TraceFormat.KIND_MARK) {
        int length = RECORD_BYTES;
        if (kind == TraceFormat.KIND_MARK && ensure(2)) {
          length += window.get(pos + 1) & 0xff;
        }
        if (!ensure(length)) { // a torn last record
          ignored = fileSize - offset;
          break;
        }
        long word = window.getLong(pos);
        long time = window.getLong(pos + 8);
        int check = (int) (word >>> 32) & 0xffff;
        long bare = word & ~(0xffffL << 32);
        if (time < 0) {
          throw new CorruptTraceException(source, offset, "negative time " + time);
        }
        if (kind == TraceFormat.KIND_TOUCH) {
          int image = (int) (word >>> 48) & 0xff;
          if (check != TraceFormat.check(bare, time)) {
            throw new CorruptTraceException(source, offset, "touch record check mismatch");
          }
          if (image > 1 || (int) word < 0) {
            throw new CorruptTraceException(source, offset, "touch of image " + image + " chunk " + (word & 0xffffffffL));
          }
          nanos[size] = time;
          images[size] = (byte) image;
          chunks[size] = (int) word;
          size++;
        } else {
          byte[] label = new byte[length - RECORD_BYTES];
          window.get(pos + RECORD_BYTES, label);
          if (check != TraceFormat.check(bare, time, label)) {
            throw new CorruptTraceException(source, offset, "mark record check mismatch");
          }
          if (label.length == 0 || (int) word != 0) {
            throw new CorruptTraceException(source, offset, "mark with an empty label or reserved bits set");
          }
          marks.putIfAbsent(decode(utf8, label, offset), time);
        }
        pos += length;
      } else if (kind == 0 && restIsZero()) {
        ignored = fileSize - offset;
        break;
      } else {
        throw new CorruptTraceException(source, offset, String.format("unknown record kind 0x%02x", kind));
      }
    }
    if (size < capacity) {
      nanos = Arrays.copyOf(nanos, size);
      images = Arrays.copyOf(images, size);
      chunks = Arrays.copyOf(chunks, size);
    }
    byte[] id = Arrays.copyOfRange(header, TraceFormat.OFF_OVERLAY_ID, TraceFormat.OFF_RESERVED);
    return new Trace(file, Hex.of(id), start, nanos, images, chunks, Collections.unmodifiableMap(marks), ignored);
  }

  /** Checks the header; returns the start time in epoch nanoseconds. */
  private long checkHeader(ByteBuffer h) throws IOException {
    if (h.getLong(0) != TraceFormat.MAGIC) {
      throw new CorruptTraceException(source, 0, "not a trace (bad magic)");
    }
    if (h.getInt(TraceFormat.OFF_CRC) != TraceFormat.crc(h.array())) {
      throw new CorruptTraceException(source, TraceFormat.OFF_CRC, "header checksum mismatch");
    }
    int version = Short.toUnsignedInt(h.getShort(TraceFormat.OFF_VERSION));
    if (version < TraceFormat.MIN_VERSION || version > TraceFormat.MAX_VERSION) {
      throw new UnsupportedTraceVersionException(source, version);
    }
    int flags = Short.toUnsignedInt(h.getShort(TraceFormat.OFF_FLAGS));
    if (flags != 0) {
      throw new CorruptTraceException(source, TraceFormat.OFF_FLAGS, "unknown flags 0x" + Integer.toHexString(flags));
    }
    int chunkSize = h.getInt(TraceFormat.OFF_CHUNK_SIZE);
    if (chunkSize != TraceFormat.CHUNK_SIZE) {
      throw new CorruptTraceException(source, TraceFormat.OFF_CHUNK_SIZE, "chunk size " + chunkSize + ", not 4096");
    }
    long start = h.getLong(TraceFormat.OFF_START);
    if (start < 0 || h.getInt(TraceFormat.OFF_RESERVED) != 0) {
      throw new CorruptTraceException(source, TraceFormat.OFF_START, "negative start time or reserved bits set");
    }
    return start;
  }

  private String decode(CharsetDecoder utf8, byte[] label, long offset) throws CorruptTraceException {
    try {
      CharBuffer chars = utf8.reset().decode(ByteBuffer.wrap(label));
      return chars.toString();
    } catch (CharacterCodingException e) {
      throw new CorruptTraceException(source, offset, "mark label is not UTF-8", e);
    }
  }

  /** True if every byte from the parse position to the end of the file is zero. */
  private boolean restIsZero() throws IOException {
    while (ensure(1)) {
      for (int i = pos; i < window.limit(); i++) {
        if (window.get(i) != 0) {
          return false;
        }
      }
      pos = window.limit();
    }
    return true;
  }

  /** True if {@code n} bytes from the parse position are in the window; false only at end of file. */
  private boolean ensure(int n) throws IOException {
    if (window.limit() - pos >= n) {
      return true;
    }
    window.position(pos).compact(); // moves [pos, limit) to 0, leaves position after it
    windowStart += pos;
    pos = 0;
    // Read no further than the size seen at open: a trace still being written reads as a snapshot.
    window.limit((int) Math.min(window.capacity(), fileSize - windowStart));
    while (window.position() < n && window.hasRemaining()) {
      if (channel.read(window, windowStart + window.position()) < 0) {
        throw new CorruptTraceException(source, windowStart + window.position(), "file shrank while reading");
      }
    }
    window.flip();
    return window.limit() >= n;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
