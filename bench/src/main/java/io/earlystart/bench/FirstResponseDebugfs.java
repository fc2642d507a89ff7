package io.earlystart.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code debugfs} (e2fsprogs) as the first-response workload uses it: always read-only
 * ({@code -c}), in a child process, on a local image or on {@code MNT/disk.img} of a mount (a child
 * process may read the mount this JVM serves). Stateless; thread-safe.
 */
final class FirstResponseDebugfs {
  private static final Pattern SIZE = Pattern.compile("\\bSize: (\\d+)");

  private FirstResponseDebugfs() {}

  /** Size in bytes of the file {@code path} in the ext4 image (debugfs {@code stat}). */
  static long fileSize(Path image, String path) throws IOException, InterruptedException {
    String s = debugfsOut(image, "stat " + path);
    Matcher mm = SIZE.matcher(s);
    if (!mm.find()) {
      throw new IOException("no size for " + path + " in " + image + ": " + s);
    }
    return Long.parseLong(mm.group(1));
  }

  /** File system blocks (4 KiB: chunk numbers) holding the data of {@code path} (debugfs {@code blocks}). */
  static long[] blocks(Path image, String path) throws IOException, InterruptedException {
    String s = debugfsOut(image, "blocks " + path).strip();
    if (s.isEmpty()) {
      return new long[0];
    }
    return Arrays.stream(s.split("\\s+")).mapToLong(Long::parseLong).toArray();
  }

  /** Sum of the sizes of the regular files in {@code dir} ({@code ls -p}: /ino/mode/uid/gid/name/size/). */
  static long dirBytes(Path image, String dir) throws IOException, InterruptedException {
    long sum = 0;
    for (String line : debugfsOut(image, "ls -p " + dir).split("\n")) {
      String[] f = line.strip().split("/");
      if (f.length >= 7 && f[2].startsWith("100") && !f[6].isEmpty()) {
        sum += Long.parseLong(f[6]);
      }
    }
    return sum;
  }

  private static String debugfsOut(Path image, String request) throws IOException, InterruptedException {
    Path out = Files.createTempFile("earlystart-bench-debugfs-", ".out");
    try {
      String err = run(image, out, "-R", request);
      if (!err.isBlank()) {
        throw new IOException("debugfs -R \"" + request + "\" " + image + ": " + err);
      }
      return Files.readString(out, StandardCharsets.UTF_8);
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** Runs debugfs read-only ({@code -c}) on {@code image}; returns stderr without debugfs's banner lines. */
  static String run(Path image, Path stdout, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(path().toString(), "-c"));
    cmd.addAll(List.of(args));
    cmd.add(image.toString());
    ExternalTool.Exit exit = ExternalTool.exec(cmd, stdout, Map.of("DEBUGFS_PAGER", "__none__"));
    StringBuilder rest = new StringBuilder();
    for (String line : exit.stderr().split("\n")) {
      if (!line.startsWith("debugfs ") && !line.contains("catastrophic mode") && !line.isBlank()) {
        rest.append(line).append('\n');
      }
    }
    if (exit.status() != 0) {
      throw new IOException(String.join(" ", cmd) + " exited with status " + exit.status() + ": " + rest);
    }
    return rest.toString();
  }

  private static Path path() {
    return io.earlystart.cli.example.E2fsTools.find("debugfs").orElseThrow(() -> new IllegalStateException(
        "debugfs is not on PATH, /usr/sbin or /sbin; install it: apt-get install e2fsprogs"));
  }
}
