package io.earlystart.cli.example;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/** Locates and runs the e2fsprogs binaries (mke2fs, debugfs, dumpe2fs, e2fsck) deterministically. */
public final class E2fsTools {

  /** Every timestamp e2fsprogs writes (E2FSPROGS_FAKE_TIME) and every inode time we set. */
  static final long FAKE_TIME = 1_700_000_000L;

  private static final Pattern DEBUGFS_ERROR = Pattern.compile(
      "error|could not|not found|no free space|already exists|no such|cannot|can't|invalid|unknown|corrupt",
      Pattern.CASE_INSENSITIVE);
  private static final Pattern DEBUGFS_BANNER = Pattern.compile("^debugfs [0-9][^ ]* \\(.*\\)$");

  private E2fsTools() {
  }

  /** The executable {@code name} on PATH, /usr/sbin or /sbin. */
  public static Optional<Path> find(String name) {
    List<String> dirs = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      for (String d : path.split(File.pathSeparator)) {
        if (!d.isEmpty()) {
          dirs.add(d);
        }
      }
    }
    dirs.add("/usr/sbin");
    dirs.add("/sbin");
    for (String d : dirs) {
      Path p = Path.of(d, name);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  static Path require(String name) throws IOException {
    return find(name).orElseThrow(() -> new IOException(name + " not found: install e2fsprogs"));
  }

  record Output(int exit, String stdout, String stderr) {
  }

  /**
   * Runs {@code cmd} in {@code cwd} with the fake clock and the C locale; output goes through
   * files in {@code logDir} (no pipe to drain). Throws if the exit code is not 0.
   */
  static Output run(Path logDir, Path cwd, List<String> cmd) throws IOException, InterruptedException {
    Path out = Files.createTempFile(logDir, "out", ".log");
    Path err = Files.createTempFile(logDir, "err", ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    Map<String, String> env = pb.environment();
    env.put("E2FSPROGS_FAKE_TIME", Long.toString(FAKE_TIME));
    env.put("LC_ALL", "C");
    env.remove("MKE2FS_CONFIG");
    env.remove("MKE2FS_SYNC");
    Process p = pb.start();
    int exit;
    try {
      exit = p.waitFor();
    } catch (InterruptedException e) {
      p.destroyForcibly();
      throw e;
    }
    String so = Files.readString(out, StandardCharsets.ISO_8859_1);
    String se = Files.readString(err, StandardCharsets.ISO_8859_1);
    Files.deleteIfExists(out);
    Files.deleteIfExists(err);
    if (exit != 0) {
      throw new IOException(Path.of(cmd.get(0)).getFileName() + " failed (exit " + exit + "): "
          + tail(se.isBlank() ? so : se));
    }
    return new Output(exit, so, se);
  }

  /**
   * Runs {@code debugfs -w -f cmdFile image}. debugfs exits 0 even when a command fails, so any
   * stderr line other than its version banner is treated as a failure.
   */
  static void debugfs(Path logDir, Path cwd, Path cmdFile, Path image) throws IOException, InterruptedException {
    Path debugfs = require("debugfs");
    Output o = run(logDir, cwd, List.of(debugfs.toString(), "-w", "-f", cmdFile.toString(), image.toString()));
    List<String> bad = new ArrayList<>();
    for (String line : o.stderr().split("\n")) {
      String l = line.strip();
      if (l.isEmpty() || DEBUGFS_BANNER.matcher(l).matches()) {
        continue;
      }
      bad.add(l);
    }
    if (!bad.isEmpty()) {
      boolean known = bad.stream().anyMatch(l -> DEBUGFS_ERROR.matcher(l).find());
      throw new IOException("debugfs " + (known ? "failed" : "reported unexpected output") + " on "
          + image.getFileName() + ": " + String.join(" | ", bad.subList(0, Math.min(5, bad.size())))
          + (bad.size() > 5 ? " | ... (" + bad.size() + " lines)" : ""));
    }
  }

  /** "Free blocks:" from {@code dumpe2fs -h}. */
  static long freeBlocks(Path logDir, Path image) throws IOException, InterruptedException {
    Output o = run(logDir, logDir, List.of(require("dumpe2fs").toString(), "-h", image.toString()));
    for (String line : o.stdout().split("\n")) {
      if (line.startsWith("Free blocks:")) {
        return Long.parseLong(line.substring("Free blocks:".length()).strip());
      }
    }
    throw new IOException("dumpe2fs -h " + image.getFileName() + ": no 'Free blocks:' line");
  }

  private static String tail(String s) {
    String t = s.strip().replace('\n', ' ');
    return t.length() > 400 ? "..." + t.substring(t.length() - 400) : t;
  }
}
