package io.earlystart.overlay.io;

import java.util.HexFormat;

/** Lower-case hex of digests, for messages and ids. */
public final class Hex {
  private static final HexFormat HEX = HexFormat.of();

  private Hex() {}

  public static String of(byte[] bytes) {
    return HEX.formatHex(bytes);
  }

  public static byte[] parse(String hex) {
    return HEX.parseHex(hex);
  }
}
