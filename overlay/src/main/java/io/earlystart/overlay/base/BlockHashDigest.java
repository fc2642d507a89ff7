package io.earlystart.overlay.base;

import io.earlystart.overlay.io.Sha256;
import java.nio.ByteBuffer;
import java.security.MessageDigest;

/**
 * The block-hash digest of an image, fed its blocks in order (overlay/FORMAT.md, "Base digest"):
 *
 * <pre>
 * blockHash := SHA-256( size:u64 D(block 0) D(block 1) ... D(block n-1) )     (size big-endian)
 * block i   := the image's bytes [i * 1 MiB, min(size, (i + 1) * 1 MiB)): the last one may be short
 * D(block)  := SHA-256 of the block's bytes
 * </pre>
 *
 * Like the SHA-256 of every byte it depends only on the image's content (a sparse image and its dense
 * copy have the same digest), but a block known to be all zero, a hole, costs a constant: {@link
 * #zeroBlock} hashes no zeros. Not thread-safe: one instance per pass over one image.
 */
public final class BlockHashDigest {
  /** The block size: 1 MiB. */
  public static final int BLOCK = 1 << 20;
  /** D of a full all-zero block, computed once. */
  private static final byte[] ZERO_BLOCK = Sha256.of(new byte[BLOCK]);

  private final MessageDigest outer = Sha256.newDigest();
  private final MessageDigest inner = Sha256.newDigest();
  private final long size;
  private long pos;
  private long hashedBytes;

  /** Starts the digest of an image of {@code size} bytes. */
  public BlockHashDigest(long size) {
    if (size < 0) {
      throw new IllegalArgumentException("negative image size " + size);
    }
    this.size = size;
    outer.update(ByteBuffer.allocate(Long.BYTES).putLong(size).array());
  }

  /** The length the next block must have: {@link #BLOCK}, or less for the last one. */
  public int nextBlockLength() {
    return (int) Math.min(BLOCK, size - pos);
  }

  /** Adds the next block, {@code b[off..off+len)}. */
  public void block(byte[] b, int off, int len) {
    expect(len);
    inner.update(b, off, len);
    outer.update(inner.digest());
    hashedBytes += len;
    pos += len;
  }

  /** Adds the next block, known to be all zero (a hole), without hashing its bytes. */
  public void zeroBlock(int len) {
    expect(len);
    outer.update(len == BLOCK ? ZERO_BLOCK : Sha256.of(new byte[len])); // a short one is the last: once
    pos += len;
  }

  /** The digest, once every block was added. */
  public byte[] digest() {
    if (pos != size) {
      throw new IllegalStateException("digest of " + pos + " of " + size + " bytes");
    }
    return outer.digest();
  }

  /** Bytes that went through SHA-256 as block content: the bytes of the blocks not given as zero. */
  public long hashedBytes() {
    return hashedBytes;
  }

  private void expect(int len) {
    if (pos >= size || len != nextBlockLength()) {
      throw new IllegalArgumentException("block of " + len + " bytes at " + pos + " of " + size
          + ", expected " + (pos >= size ? "none" : nextBlockLength()));
    }
  }
}
