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

  @Override
  public Integer call() throws IOException {
    String text;
    try {
      text = Files.readString(mountPoint.resolve("status"), StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new IOException(mountPoint + " is not an earlystart mount (no status file)");
    }
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
