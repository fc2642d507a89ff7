package io.earlystart.overlay.io;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** SHA-256 helpers; every Java platform has SHA-256, so its absence is an error, not a checked case. */
public final class Sha256 {
  private Sha256() {}

  public static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  public static byte[] of(byte[] b) {
    return newDigest().digest(b);
  }

  public static byte[] of(byte[] b, int off, int len) {
    MessageDigest d = newDigest();
    d.update(b, off, len);
    return d.digest();
  }
}
