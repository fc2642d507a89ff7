package io.earlystart.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code earlystart status MOUNTPOINT}: the mount's status file, for people. */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Show how far an early-started mount is: segments and bytes fetched, stream rate, demand "
        + "fetches, how long readers waited, errors.")
final class StatusCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "MOUNTPOINT", description = "Where earlystart mount mounted the images.")
  Path mountPoint;

  @Option(names = "--json", description = "Print the status file as it is (JSON).")
  boolean json;

  @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "5s", converter = DurationConverter.class,
      description = "How long to wait for the mount to answer (default: ${DEFAULT-VALUE}).")
  java.time.Duration timeout;

  @Override
  public Integer call() throws IOException, InterruptedException {
    String text = readStatus(mountPoint.resolve("status"), timeout);
    var out = spec.commandLine().getOut();
    if (json) {
      out.print(text);
      out.flush();
      return 0;
    }
    out.print(render(text));
    out.flush();
    return 0;
  }

  /**
   * Reads the status file on a daemon thread, at most {@code timeout}: a mount that does not answer (a
   * stopped or wedged daemon; native-notes/FUSE.md) must not hang status with it.
   */
  static String readStatus(Path file, java.time.Duration timeout) throws IOException, InterruptedException {
    java.util.concurrent.CompletableFuture<String> read = new java.util.concurrent.CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        read.complete(Files.readString(file, StandardCharsets.UTF_8));
      } catch (Throwable e) {
        read.completeExceptionally(e);
      }
    }, "earlystart-status-read");
    t.setDaemon(true);
    t.start();
    try {
      return read.get(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IOException(file + " did not answer within " + Units.seconds(timeout.toNanos())
          + ": its mount process is stopped or all its threads are busy (see its log)");
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof NoSuchFileException) {
        throw new IOException(file.getParent() + " is not an earlystart mount (no status file)");
      }
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new IOException(e.getCause().toString(), e.getCause());
    }
  }

  /** The status JSON as a few lines for people. */
  @SuppressWarnings("unchecked")
  static String render(String statusJson) {
    Map<String, Object> s = (Map<String, Object>) Json.parse(statusJson);
    Map<String, Object> seg = (Map<String, Object>) s.get("segments");
    Map<String, Object> bytes = (Map<String, Object>) s.get("bytes");
    Map<String, Object> waits = (Map<String, Object>) s.get("waits");
    Map<String, Object> written = (Map<String, Object>) s.get("guestWrittenChunks");
    StringBuilder b = new StringBuilder();
    b.append(String.format("%s: overlay %s from %s, %s%n", s.get("state"), s.get("overlay"), s.get("source"),
        Units.seconds((long) (num(s, "elapsedSeconds") * 1e9)) + " since mount"));
    b.append(String.format("segments  %d of %d (%d were in the cache at mount)%n", (long) num(seg, "applied"),
        (long) num(seg, "total"), (long) num(seg, "inCacheAtMount")));
    b.append(String.format("fetched   %s of %s, at %s/s%n", Units.bytes((long) num(bytes, "fetched")),
        Units.bytes((long) num(bytes, "total")), Units.bytes((long) num(s, "streamRateBytesPerSecond"))));
    b.append(String.format("demands   %d, retries %d, reconnects %d%n", (long) num(s, "demands"),
        (long) num(s, "retries"), (long) num(s, "reconnects")));
    for (String image : new String[] {"disk", "memory"}) {
      Map<String, Object> w = (Map<String, Object>) waits.get(image);
      b.append(String.format("%-9s %d reads waited (%d waiting now), p50 %.1f ms, p99 %.1f ms, %d failed%n",
          image + ":", (long) num(w, "count"), (long) num(w, "waitingNow"), num(w, "p50Micros") / 1000.0,
          num(w, "p99Micros") / 1000.0, (long) num(w, "errors")));
    }
    b.append(String.format("written   by the guest: %d disk chunks, %d memory chunks%n", (long) num(written, "disk"),
        (long) num(written, "memory")));
    if (s.get("lastError") != null) {
      b.append("last error: ").append(s.get("lastError")).append('\n');
    }
    return b.toString();
  }

  private static double num(Map<String, Object> m, String key) {
    Object v = m == null ? null : m.get(key);
    if (!(v instanceof Double d)) {
      throw new IllegalArgumentException("status has no number '" + key + "'");
    }
    return d;
  }
}
