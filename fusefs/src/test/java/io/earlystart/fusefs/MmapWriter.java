package io.earlystart.fusefs;

import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Run in a child JVM by {@link EarlyStartIT} (a JVM must not page-fault on a mount it serves): maps a
 * file read-write, {@code private} ({@code MAP_PRIVATE}, copy-on-write) or {@code shared}
 * ({@code MAP_SHARED}, written back), prints the SHA-256 of the whole mapping as first read, then
 * fills 4 KiB at OFFSET with the byte 'P' and, when shared, forces it back ({@code msync}).
 *
 * <p>Usage: {@code MmapWriter FILE private|shared OFFSET}.
 */
public final class MmapWriter {
  private MmapWriter() {}

  public static void main(String[] args) throws Exception {
    boolean shared = "shared".equals(args[1]);
    int offset = Integer.parseInt(args[2]);
    try (FileChannel ch = FileChannel.open(Path.of(args[0]), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      MappedByteBuffer map = ch.map(shared ? FileChannel.MapMode.READ_WRITE : FileChannel.MapMode.PRIVATE, 0,
          ch.size());
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(map.duplicate());
      System.out.println(HexFormat.of().formatHex(sha.digest()));
      for (int i = 0; i < 4096; i++) {
        map.put(offset + i, (byte) 'P');
      }
      if (shared) {
        map.force();
      }
      System.out.println(map.get(offset) == 'P' ? "written" : "not written");
    }
  }
}
