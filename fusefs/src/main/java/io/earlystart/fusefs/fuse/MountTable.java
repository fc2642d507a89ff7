package io.earlystart.fusefs.fuse;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel's view of mounts, and the ways to end one: what {@code /proc/self/mountinfo} lists, a
 * FUSE connection's {@code abort}, and {@code fusermount -u -z}. Used by {@link FuseMount} and by
 * anyone who must find or remove a mount a dead process left (the CLI, tests, benchmarks).
 *
 * <p>Static methods only; thread-safe.
 */
public final class MountTable {
  private static final Logger LOG = LoggerFactory.getLogger(MountTable.class);
  private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

  private MountTable() {}

  /** Whether {@code /proc/self/mountinfo} lists {@code mountPoint} as a mount point. */
  public static boolean isMounted(Path mountPoint) throws IOException {
    return find(mountPoint, lines()) != null;
  }

  /**
   * Whether a file system answers at {@code mountPoint}: the kernel lists it as a mount point, and a
   * {@code stat} of it (answered by the file system) shows a device other than its parent's.
   */
  public static boolean isServing(Path mountPoint) throws IOException {
    Path mp = mountPoint.toAbsolutePath().normalize();
    return isMounted(mp)
        && !Files.getAttribute(mp.getParent(), "unix:dev").equals(Files.getAttribute(mp, "unix:dev"));
  }

  /**
   * Removes a mount left at {@code mountPoint} by a dead process: aborts its FUSE connection first
   * (a process blocked on a request its dead daemon will never answer is stuck in the kernel until
   * then; see native-notes/FUSE.md), then {@code fusermount -u -z}.
   *
   * @throws IOException when the mount is still there afterwards
   */
  public static void cleanStale(Path mountPoint) throws IOException {
    String[] entry = find(mountPoint, lines());
    if (entry != null) {
      LOG.warn("stale mount at {}, aborting its connection and unmounting it", mountPoint);
      abortConnection(mountPoint, entry);
      unmountLazy(mountPoint);
      if (isMounted(mountPoint)) {
        throw new IOException("cannot remove stale mount at " + mountPoint);
      }
    }
  }

  /**
   * {@code fusermount -u -z MOUNTPOINT}: detaches the mount now; the file system ends once nothing
   * uses it. A non-zero exit is logged, not thrown (the caller checks {@link #isMounted}).
   */
  static void unmountLazy(Path mountPoint) throws IOException {
    Process p = new ProcessBuilder("fusermount", "-u", "-z", mountPoint.toString())
        .redirectErrorStream(true)
        .start();
    try {
      if (!p.waitFor(5, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("fusermount -u -z " + mountPoint + " did not finish in 5 s");
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (p.exitValue() != 0) {
        LOG.warn("fusermount -u -z {} exited {}: {}", mountPoint, p.exitValue(), out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while unmounting " + mountPoint, e);
    }
  }

  /**
   * Writes to {@code /sys/fs/fuse/connections/N/abort} of the FUSE mount {@code entry} (N: the minor
   * device number in mountinfo), mounting {@code fusectl} there if it is not (root only). Best effort:
   * a failure is logged, the lazy unmount follows anyway.
   */
  private static void abortConnection(Path mountPoint, String[] entry) {
    int dash = Arrays.asList(entry).indexOf("-");
    if (dash <= 0 || dash + 1 >= entry.length || !entry[dash + 1].startsWith("fuse") || !entry[2].startsWith("0:")) {
      return; // not a FUSE mount, or no anonymous device number
    }
    String minor = entry[2].substring(2);
    try {
      Path connections = Path.of("/sys/fs/fuse/connections");
      if (Files.isDirectory(connections) && !Files.exists(connections.resolve(minor))) {
        new ProcessBuilder("mount", "-t", "fusectl", "none", connections.toString())
            .redirectErrorStream(true).start().waitFor(5, TimeUnit.SECONDS);
      }
      Path abort = connections.resolve(minor).resolve("abort");
      if (Files.exists(abort)) {
        Files.writeString(abort, "1");
        LOG.info("aborted FUSE connection {} of {}", minor, mountPoint);
      }
    } catch (IOException | RuntimeException e) {
      LOG.debug("cannot abort the FUSE connection of {}: {}", mountPoint, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static List<String> lines() throws IOException {
    return Files.readAllLines(MOUNTINFO, StandardCharsets.UTF_8);
  }

  /** The fields of the last mountinfo line whose mount point is {@code mountPoint}, or null. */
  private static String[] find(Path mountPoint, List<String> lines) {
    String want = mountPoint.toAbsolutePath().normalize().toString();
    String[] found = null;
    for (String line : lines) {
      String[] f = line.split(" ");
      if (f.length > 4 && unescape(f[4]).equals(want)) {
        found = f;
      }
    }
    return found;
  }

  /** Decodes the octal escapes (backslash and three octal digits, e.g. a space) of /proc/self/mountinfo. */
  static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    byte[] raw = s.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length);
    for (int i = 0; i < raw.length; i++) {
      if (raw[i] == '\\' && i + 3 < raw.length) {
        out.write(Integer.parseInt(new String(raw, i + 1, 3, StandardCharsets.US_ASCII), 8));
        i += 3;
      } else {
        out.write(raw[i]);
      }
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
