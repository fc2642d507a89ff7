package io.earlystart.fusefs;

import io.earlystart.fetcher.SchedulerOptions;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Run in a child JVM by {@link EarlyStartIT} to be killed with {@code kill -9}: opens an early start,
 * mounts it, starts the stream, prints "ready", and serves until killed.
 *
 * <p>Usage: {@code MountMain BASE_DISK BASE_MEMORY SOURCE CACHE_DIR MOUNTPOINT [no-auto-unmount]}; with
 * the last argument a killed mount stays behind, stale, as after a crash without {@code auto_unmount}.
 */
public final class MountMain {
  private MountMain() {}

  public static void main(String[] args) throws Exception {
    EarlyStart.Options o = EarlyStart.Options.of(Path.of(args[0]), Path.of(args[1]), args[2], Path.of(args[3]))
        .withWaits(Duration.ofSeconds(30), Duration.ofSeconds(30))
        .withScheduler(SchedulerOptions.DEFAULTS.withWindowBytes(64 << 10));
    EarlyStart es = EarlyStart.open(o);
    java.util.List<String> options = new java.util.ArrayList<>(EarlyStartIT.MOUNT_OPTIONS);
    if (args.length > 5 && args[5].equals("no-auto-unmount")) {
      options.remove("auto_unmount");
    }
    es.mount(Path.of(args[4]), options);
    System.out.println("ready");
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
