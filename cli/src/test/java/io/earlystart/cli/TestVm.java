package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** The real test VM of vm/build.sh for the ITs: tool checks, and builds under cli/target (idempotent). */
final class TestVm {
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  private TestVm() {}

  /** Fails under CI=true, else aborts the test class, when a tool the VM needs is missing. */
  static void requireTools(String... more) {
    List<String> missing = new ArrayList<>();
    List<String> tools = new ArrayList<>(List.of("qemu-system-x86_64", "fusermount", "python3", "curl", "mke2fs"));
    tools.addAll(List.of(more));
    for (String tool : tools) {
      boolean found = Stream.of(System.getenv().getOrDefault("PATH", "").split(":"))
          .anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, tool)));
      if (!found) {
        missing.add(tool);
      }
    }
    if (!Files.isWritable(Path.of("/dev/fuse"))) {
      missing.add("/dev/fuse");
    }
    if (!missing.isEmpty()) {
      String why = "the real test VM needs " + missing + " (scripts/packages.txt)";
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        fail(why + " (CI=true: failing instead of skipping)");
      }
      org.junit.jupiter.api.Assumptions.abort(why);
    }
  }

  /**
   * Builds the test VM into {@code cli/target/NAME} with {@code env} added (vm/build.sh does nothing when
   * it is up to date); the downloads are shared in {@code cli/target/vm/cache}. Returns the directory.
   */
  static Path build(String name, Map<String, String> env) throws Exception {
    Path out = ROOT.resolve("cli/target").resolve(name);
    Path log = ROOT.resolve("cli/target/" + name + "-build.log");
    ProcessBuilder pb = new ProcessBuilder(ROOT.resolve("vm/build.sh").toString(), out.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("EARLYSTART_VM_CACHE", ROOT.resolve("cli/target/vm/cache").toString());
    pb.environment().putAll(env);
    Process b = pb.start();
    assertTrue(b.waitFor(9, TimeUnit.MINUTES), "vm/build.sh " + out + " did not finish");
    assertEquals(0, b.exitValue(), "vm/build.sh " + out + " failed: " + Files.readString(log));
    return out;
  }

  /** {@code earlystart create} of the customised VM in {@code vm} against its base, into {@code out}. */
  static void create(Path vm, Path out, String... extra) {
    List<String> args = new ArrayList<>(List.of("create", "--base-disk", vm.resolve("base/disk.img").toString(),
        "--base-memory", vm.resolve("base/memory.img").toString(), "--disk", vm.resolve("app/disk.img").toString(),
        "--memory", vm.resolve("app/memory.img").toString(), "--vmstate", vm.resolve("app/vmstate").toString(),
        "--vm-config", vm.resolve("app/vm.json").toString(), "-q", "-o", out.toString()));
    args.addAll(List.of(extra));
    CliTest.Run r = CliTest.run(args.toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
  }

  /**
   * A QEMU that never runs a guest ({@code -S}): 64 MiB of RAM in a file under {@code dir}, shared or not,
   * and its QMP socket {@code dir/q.sock}; enough for capture to stop, migrate and quit it.
   */
  static Process pausedQemu(Path dir, boolean share) throws Exception {
    Path ram = dir.resolve("ram.img");
    try (var f = new java.io.RandomAccessFile(ram.toFile(), "rw")) {
      f.setLength(64 << 20);
    }
    return new ProcessBuilder("qemu-system-x86_64", "-nodefaults", "-machine", "pc,accel=tcg,memory-backend=m0",
        "-m", "64M", "-object", "memory-backend-file,id=m0,size=64M,mem-path=" + ram + ",share=" + (share ? "on" : "off"),
        "-display", "none", "-S", "-qmp", "unix:" + dir.resolve("q.sock") + ",server=on,wait=off")
        .redirectErrorStream(true).start();
  }

  static Map<String, String> none() {
    return Map.of();
  }
}
