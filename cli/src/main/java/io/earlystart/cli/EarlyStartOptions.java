package io.earlystart.cli;

import io.earlystart.fusefs.EarlyStart;
import io.earlystart.fusefs.fuse.MountOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** What mount and launch share: the source, the cache, the waits, the trace and the FUSE options (a mixin). */
final class EarlyStartOptions {
  @Option(names = "--source", required = true, paramLabel = "SOURCE",
      description = "The overlay: es://host:port/NAME (earlystart serve), an http(s):// URL, or a file.")
  String source;

  @Option(names = "--cache-dir", required = true, paramLabel = "DIR",
      description = "Where arrived chunks and guest writes are kept (created if missing; one mount at a time).")
  Path cacheDir;

  @Option(names = "--trace-out", paramLabel = "FILE",
      description = "Record the first touch of every chunk (time, image, chunk); format: ordering/README.md.")
  Path traceOut;

  @Option(names = "--disk-wait", paramLabel = "DURATION", defaultValue = "30s", converter = DurationConverter.class,
      description = "How long a disk.img read waits for its chunk before it fails with EIO (default: "
          + "${DEFAULT-VALUE}).")
  Duration diskWait;

  @Option(names = "--memory-wait", paramLabel = "DURATION", defaultValue = "60min",
      converter = DurationConverter.class,
      description = "How long a memory.img read waits, retrying across reconnects (an error there kills QEMU "
          + "with SIGBUS); also how long the source may stay unreachable (default: ${DEFAULT-VALUE}).")
  Duration memoryWait;

  @Option(names = "-o", paramLabel = "OPTION", split = ",",
      description = "Extra libfuse mount option(s), e.g. -o max_readahead=4096 (see native-notes/FUSE.md).")
  List<String> fuseOptions = new ArrayList<>();

  EarlyStart.Options options(BaseImages base) {
    return EarlyStart.Options.of(base.disk, base.memory, source, cacheDir).withWaits(diskWait, memoryWait)
        .withTrace(traceOut);
  }

  /** The libfuse options of the mount: an early-start mount's, then {@code extra}, then the user's {@code -o}. */
  List<String> mountOptions(List<String> extra) {
    List<String> all = new ArrayList<>(extra);
    all.addAll(fuseOptions);
    return MountOptions.writable(all);
  }
}
