package io.earlystart.bench;

import io.earlystart.cli.example.ExampleImages;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The example VM pair a benchmark runs on ({@link ExampleImages}, fixed seed), generated once per
 * seed and size into {@code ROOT/example-seed<S>-<N>m/} and reused by later runs while its marker
 * file says it is complete. ROOT is the system property {@code earlystart.bench.dir}, else the
 * environment variable {@code EARLYSTART_BENCH_DIR}, else {@code work/} beside the benchmarks jar
 * (bench/target/work). Not safe for two runs at once on the same ROOT.
 */
final class ExampleWorkload {
  static final long SEED = 1;
  private static final String MARKER = ".complete";

  final Path dir;
  final ExampleImages.Result files;
  final long imageSize;

  private ExampleWorkload(Path dir, ExampleImages.Result files, long imageSize) {
    this.dir = dir;
    this.files = files;
    this.imageSize = imageSize;
  }

  /** The pair of {@code sizeMiB} MiB disk and {@code sizeMiB} MiB memory, generated if needed. */
  static ExampleWorkload prepare(int sizeMiB) throws IOException, InterruptedException {
    long size = (long) sizeMiB << 20;
    Path dir = root().resolve("example-seed" + SEED + "-" + sizeMiB + "m");
    ExampleImages.Spec spec = new ExampleImages.Spec(SEED, size, size);
    Path marker = dir.resolve(MARKER);
    String want = spec.toString();
    if (Files.isRegularFile(marker) && Files.readString(marker, StandardCharsets.UTF_8).strip().equals(want)) {
      ExampleImages.Result r = new ExampleImages.Result(dir.resolve(ExampleImages.BASE_DISK),
          dir.resolve(ExampleImages.BASE_MEMORY), dir.resolve(ExampleImages.DISK), dir.resolve(ExampleImages.MEMORY),
          dir.resolve(ExampleImages.VMSTATE), dir.resolve(ExampleImages.VM_CONFIG));
      if (allPresent(r, size)) {
        log("reusing the example pair in " + dir);
        return new ExampleWorkload(dir, r, size);
      }
    }
    log("generating the example pair " + want + " into " + dir);
    deleteRecursively(dir);
    long t0 = System.nanoTime();
    ExampleImages.Result r = ExampleImages.generate(dir, spec);
    EarlystartRuns.syncAll(); // before the marker: complete only once on disk
    Files.writeString(marker, want + "\n", StandardCharsets.UTF_8);
    log(String.format("generated in %.1f s", (System.nanoTime() - t0) / 1e9));
    return new ExampleWorkload(dir, r, size);
  }

  /** An empty directory {@code name} inside the workload directory (emptied if it exists). */
  Path freshDir(String name) throws IOException {
    return freshDir(dir.resolve(name));
  }

  /** {@code p} as an empty directory (emptied if it exists). */
  static Path freshDir(Path p) throws IOException {
    deleteRecursively(p);
    return Files.createDirectories(p);
  }

  private static boolean allPresent(ExampleImages.Result r, long size) throws IOException {
    for (Path p : List.of(r.baseDisk(), r.baseMemory(), r.disk(), r.memory())) {
      if (!Files.isRegularFile(p) || Files.size(p) != size) {
        return false;
      }
    }
    return Files.isRegularFile(r.vmstate()) && Files.isRegularFile(r.vmConfig());
  }

  static Path root() {
    String p = System.getProperty("earlystart.bench.dir");
    if (p == null || p.isBlank()) {
      p = System.getenv("EARLYSTART_BENCH_DIR");
    }
    if (p != null && !p.isBlank()) {
      return Path.of(p).toAbsolutePath();
    }
    try {
      // bench/target/benchmarks.jar or bench/target/classes -> bench/target/work
      Path code = Path.of(ExampleWorkload.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return code.toAbsolutePath().getParent().resolve("work");
    } catch (URISyntaxException | RuntimeException e) {
      return Path.of("bench", "target", "work").toAbsolutePath();
    }
  }

  static void deleteRecursively(Path p) throws IOException {
    ExampleImages.deleteRecursively(p);
  }

  static void log(String msg) {
    System.out.println("[earlystart-bench] " + msg);
    System.out.flush();
  }
}
