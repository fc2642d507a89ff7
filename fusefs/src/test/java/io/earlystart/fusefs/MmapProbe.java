package io.earlystart.fusefs;

import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Run in a child JVM by {@code fuse.ImageFsIT}: maps a file read-only ({@code mmap(PROT_READ, MAP_SHARED)})
 * and touches it, so the reads reach FUSE as page faults.
 *
 * <p>It must be another process: a page fault taken in Java code on a mount served by the same JVM
 * deadlocks (the faulting thread cannot reach a safepoint, the FUSE thread waits for one).
 *
 * <p>Usage: {@code MmapProbe FILE byte OFFSET} prints the byte as an unsigned int;
 * {@code MmapProbe FILE sha256} prints the SHA-256 of the whole mapping.
 */
public final class MmapProbe {

  private MmapProbe() {}

  public static void main(String[] args) throws Exception {
    try (FileChannel ch = FileChannel.open(Path.of(args[0]))) {
      MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
      if ("byte".equals(args[1])) {
        System.out.println(map.get(Integer.parseInt(args[2])) & 0xff);
      } else {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update(map);
        System.out.println(HexFormat.of().formatHex(sha.digest()));
      }
    }
  }
}
