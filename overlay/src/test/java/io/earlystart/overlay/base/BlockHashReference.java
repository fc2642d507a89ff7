package io.earlystart.overlay.base;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The block-hash digest written straight from its definition in overlay/FORMAT.md, reading every
 * byte (holes too) and knowing nothing of holes: what the tests compare {@link BlockHashDigest} and
 * {@link BaseIndex} against.
 */
public final class BlockHashReference {
  private static final int MIB = 1 << 20;

  private BlockHashReference() {}

  /** SHA-256(size:u64 || SHA-256(MiB 0) || SHA-256(MiB 1) || ...), the last MiB possibly short. */
  public static byte[] of(Path image) throws IOException {
    MessageDigest outer = sha256();
    long size = Files.size(image);
    outer.update(ByteBuffer.allocate(8).putLong(size).array());
    byte[] block = new byte[MIB];
    try (InputStream in = Files.newInputStream(image)) {
      for (long pos = 0; pos < size; pos += MIB) {
        int len = (int) Math.min(MIB, size - pos);
        if (in.readNBytes(block, 0, len) != len) {
          throw new IOException(image + " shrank");
        }
        MessageDigest inner = sha256();
        inner.update(block, 0, len);
        outer.update(inner.digest());
      }
    }
    return outer.digest();
  }

  /** SHA-256 of every byte of {@code image}: what a version-1 overlay names a base by. */
  public static byte[] flatSha256(Path image) throws IOException {
    return sha256().digest(Files.readAllBytes(image));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }
}
