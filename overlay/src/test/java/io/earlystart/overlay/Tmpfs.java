package io.earlystart.overlay;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * A tmpfs mounted for one test and unmounted by {@link #close}. Needs root (or passwordless sudo). If
 * neither is available the test fails when the environment variable CI is "true" (CI must run it) and
 * is skipped otherwise, with the reason.
 */
public final class Tmpfs implements AutoCloseable {
  private final Path dir;
  private final List<String> prefix;

  private Tmpfs(Path dir, List<String> prefix) {
    this.dir = dir;
    this.prefix = prefix;
  }

  public static Tmpfs mount(Path dir, String options) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    List<String> mount = List.of("mount", "-t", "tmpfs", "-o", options, "tmpfs", dir.toString());
    String why = run(mount);
    if (why == null) {
      return new Tmpfs(dir, List.of());
    }
    List<String> sudo = List.of("sudo", "-n");
    String whySudo = run(concat(sudo, mount));
    if (whySudo == null) {
      return new Tmpfs(dir, sudo);
    }
    String reason = "cannot mount a tmpfs at " + dir + " (mount: " + why + "; sudo -n mount: " + whySudo
        + "): this test needs root or passwordless sudo";
    if ("true".equals(System.getenv("CI"))) {
      fail(reason + ", and CI must run it");
    }
    Assumptions.abort(reason + "; skipped because CI is not \"true\"");
    throw new AssertionError("unreachable");
  }

  /** Bytes in use on the file system, from statvfs. */
  public long usedBytes() throws IOException {
    var store = Files.getFileStore(dir);
    return store.getTotalSpace() - store.getUnallocatedSpace();
  }

  @Override
  public void close() throws IOException, InterruptedException {
    String why = run(concat(prefix, List.of("umount", dir.toString())));
    if (why != null) {
      run(concat(prefix, List.of("umount", "-l", dir.toString())));
      fail("cannot unmount the tmpfs at " + dir + " (" + why + "): a file on it was left open");
    }
  }

  /** Runs a command; null if it succeeded, else its exit code and output. */
  private static String run(List<String> cmd) throws IOException, InterruptedException {
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    } catch (IOException e) {
      return e.getMessage();
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    int code = p.waitFor();
    return code == 0 ? null : "exit " + code + (out.isEmpty() ? "" : ": " + out);
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }
}
