package io.earlystart.overlay.format;

import io.earlystart.overlay.io.Hex;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The fixed 64-byte header that opens every overlay file (see overlay/FORMAT.md).
 *
 * <pre>
 * offset size field
 *  0      8   magic            89 45 53 4F 56 0D 0A 1A   ("\x89ESOV\r\n\x1a")
 *  8      2   version          u16, this build writes CURRENT_VERSION and reads MIN_VERSION..MAX_VERSION
 * 10      2   flags            u16, must be 0 in versions 1 and 2
 * 12      4   manifestLength   u32, bytes of the stored (zstd) manifest that follows the header
 * 16      4   manifestRawLen   u32, bytes of the manifest once decompressed
 * 20      4   reserved         0
 * 24     32   manifestSha256   SHA-256 of the stored manifest bytes = the overlay id
 * 56      4   reserved         0
 * 60      4   headerCrc32c     CRC32C of bytes 0..59
 * </pre>
 *
 * Immutable and thread-safe.
 */
public record OverlayHeader(int version, int manifestLength, int manifestRawLength, byte[] manifestSha256) {

  public static final int SIZE = 64;
  public static final int MIN_VERSION = 1;
  public static final int MAX_VERSION = 2;
  public static final int CURRENT_VERSION = 2;
  /** The first version whose {@code baseSha256} is the block-hash digest ({@link BaseDigest}). */
  public static final int BLOCK_HASH_VERSION = 2;
  /** Upper bound on either manifest length, enforced before anything is allocated. */
  public static final int MAX_MANIFEST_BYTES = 256 << 20;

  static final byte[] MAGIC = {(byte) 0x89, 'E', 'S', 'O', 'V', '\r', '\n', 0x1a};

  public OverlayHeader {
    if (manifestSha256.length != 32) {
      throw new IllegalArgumentException("manifest SHA-256 must be 32 bytes");
    }
  }

  public byte[] encode() {
    ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.BIG_ENDIAN);
    b.put(MAGIC).putShort((short) version).putShort((short) 0)
        .putInt(manifestLength).putInt(manifestRawLength).putInt(0)
        .put(manifestSha256).putInt(0);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, SIZE - 4);
    b.putInt((int) crc.getValue());
    return b.array();
  }

  /**
   * Parses and checks a header: magic, checksum, then version, flags and lengths.
   *
   * @param bytes at least {@link #SIZE} bytes read from the start of the overlay
   * @param available how many bytes were actually available (less than SIZE means truncated)
   */
  public static OverlayHeader decode(byte[] bytes, int available, String source)
      throws CorruptOverlayException, UnsupportedVersionException {
    if (available < SIZE) {
      throw new CorruptOverlayException(source, available,
          "truncated header: " + available + " of " + SIZE + " bytes");
    }
    if (!Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
      throw new CorruptOverlayException(source, 0, "not an earlystart overlay (bad magic)");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes, 0, SIZE).order(ByteOrder.BIG_ENDIAN);
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, SIZE - 4);
    if ((int) crc.getValue() != b.getInt(SIZE - 4)) {
      throw new CorruptOverlayException(source, SIZE - 4, "header checksum mismatch");
    }
    int version = Short.toUnsignedInt(b.getShort(8));
    if (version < MIN_VERSION || version > MAX_VERSION) {
      throw new UnsupportedVersionException(source, version);
    }
    int flags = Short.toUnsignedInt(b.getShort(10));
    if (flags != 0) {
      throw new CorruptOverlayException(source, 10, "unknown header flags 0x" + Integer.toHexString(flags));
    }
    int length = b.getInt(12);
    int rawLength = b.getInt(16);
    if (length <= 0 || length > MAX_MANIFEST_BYTES || rawLength <= 0 || rawLength > MAX_MANIFEST_BYTES) {
      throw new CorruptOverlayException(source, 12,
          "impossible manifest length " + Integer.toUnsignedString(length) + " / " + Integer.toUnsignedString(rawLength));
    }
    byte[] sha = Arrays.copyOfRange(bytes, 24, 56);
    return new OverlayHeader(version, length, rawLength, sha);
  }

  /** What this overlay's manifest names its bases by: the meaning of {@code baseSha256} in its version. */
  public BaseDigest baseDigest() {
    return BaseDigest.of(version);
  }

  /** Where the data area (attachments, then segments) starts. */
  public long dataStart() {
    return SIZE + (long) manifestLength;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof OverlayHeader h && h.version == version && h.manifestLength == manifestLength
        && h.manifestRawLength == manifestRawLength && Arrays.equals(h.manifestSha256, manifestSha256);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(manifestSha256);
  }

  @Override
  public String toString() {
    return "OverlayHeader[version=" + version + ", manifest=" + manifestLength + "/" + manifestRawLength
        + " bytes, id=" + Hex.of(manifestSha256) + "]";
  }
}
