package io.earlystart.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code earlystart capture}: saves a running QEMU so that its RAM stays in its memory file: over QMP,
 * checks for a file-backed, shared memory backend, sets {@code x-ignore-shared}, stops the VM, migrates
 * the device state into {@code DIR/vmstate} and writes {@code DIR/vm.json}; then quits QEMU (or, with
 * {@code --keep-running}, lets it run on).
 */
@Command(name = "capture", mixinStandardHelpOptions = true,
    description = {"Save a running QEMU VM for earlystart create: device state to DIR/vmstate (RAM stays in QEMU's "
        + "memory file, which must be a memory-backend-file with share=on) and a launch description to DIR/vm.json.",
        "QEMU quits afterwards unless --keep-running is given."})
final class CaptureCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--qmp", required = true, paramLabel = "SOCKET", description = "QEMU's QMP Unix socket "
      + "(-qmp unix:SOCKET,server=on,wait=off).")
  Path socket;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where vmstate and vm.json go.")
  Path out;

  @Option(names = "--vm-config", paramLabel = "FILE", description = "A vm.json to write instead of the one made "
      + "from what QMP tells (RAM size, machine, memory backend); see native-notes/VM.md.")
  Path vmConfig;

  @Option(names = "--keep-running", description = "Let the VM run on after the capture (its memory file then "
      + "changes again: copy it first).")
  boolean keepRunning;

  @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "60s", converter = DurationConverter.class,
      description = "Deadline of the migration (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Override
  @SuppressWarnings("unchecked")
  public Integer call() throws Exception {
    Files.createDirectories(out);
    PrintWriter pw = spec.commandLine().getOut();
    Duration step = Duration.ofSeconds(10);
    try (Qmp qmp = Qmp.connect(socket, Duration.ofSeconds(10), () -> true)) {
      Map<String, Object> backend = sharedFileBackend(qmp, step);
      String id = (String) backend.get("id");
      String memPath = (String) backend.get("mem-path");
      long ramBytes = ((Double) backend.get("size")).longValue();
      qmp.execute("migrate-set-capabilities",
          "{\"capabilities\": [{\"capability\": \"x-ignore-shared\", \"state\": true}]}", step);
      qmp.execute("stop", null, step);
      Path tmp = out.toAbsolutePath().resolve(".vmstate.partial");
      qmp.execute("migrate", "{\"uri\": " + Json.quote(Qmp.execUri("cat >", tmp)) + "}", step);
      long deadline = System.nanoTime() + timeout.toNanos();
      Map<String, Object> info;
      while (true) {
        info = (Map<String, Object>) qmp.execute("query-migrate", null, step);
        Object status = info.get("status");
        if ("completed".equals(status)) {
          break;
        }
        if ("failed".equals(status) || "cancelled".equals(status)) {
          throw new IOException("QEMU's migration " + status + ": " + info.getOrDefault("error-desc", "no reason given"));
        }
        if (System.nanoTime() - deadline > 0) {
          throw new IOException("migration not completed within " + timeout.toSeconds() + " s (status " + status + ")");
        }
        Thread.sleep(20);
      }
      Files.move(tmp, out.resolve("vmstate"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      long transferred = info.get("ram") instanceof Map<?, ?> ram && ram.get("transferred") instanceof Double d
          ? d.longValue() : -1;
      if (vmConfig != null) {
        Files.copy(vmConfig, out.resolve("vm.json"), StandardCopyOption.REPLACE_EXISTING);
      } else {
        String machine = String.valueOf(qmp.execute("qom-get", "{\"path\": \"/machine\", \"property\": \"type\"}",
            step)).replaceFirst("-machine$", "");
        Files.writeString(out.resolve("vm.json"), "{\n  \"format\": 1,\n  \"ram\": \"" + (ramBytes >> 20) + "M\",\n"
            + "  \"ramBytes\": " + ramBytes + ",\n  \"machine\": " + Json.quote(machine) + ",\n"
            + "  \"memoryBackend\": {\"id\": " + Json.quote(id) + ", \"type\": \"memory-backend-file\", \"file\": "
            + Json.quote(memPath) + ", \"share\": true}\n}\n");
      }
      if (keepRunning) {
        qmp.execute("cont", null, step);
      } else {
        try {
          qmp.execute("quit", null, step);
        } catch (IOException e) {
          // QEMU may close the socket before it answers
        }
      }
      pw.printf("captured into %s: vmstate %d bytes (RAM sent in the stream: %d bytes), vm.json; RAM stays in %s "
          + "(%s); QEMU %s%n", out, Files.size(out.resolve("vmstate")), transferred, memPath, Units.bytes(ramBytes),
          keepRunning ? "runs on" : "quit");
      pw.flush();
    }
    return 0;
  }

  /**
   * The memory backend that is file-backed and shared (query-memdev's entry, plus its {@code mem-path}),
   * or a clear error naming what is wrong.
   */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> sharedFileBackend(Qmp qmp, Duration step) throws IOException {
    Object list = qmp.execute("query-memdev", null, step);
    if (!(list instanceof List<?> l) || l.isEmpty()) {
      throw new IOException("QEMU runs without a memory backend object: start it with -object "
          + "memory-backend-file,id=pc.ram,size=...,mem-path=FILE,share=on -machine memory-backend=pc.ram");
    }
    for (Object o : l) {
      Map<String, Object> m = (Map<String, Object>) o;
      if (Boolean.TRUE.equals(m.get("share")) && m.get("id") instanceof String id) {
        try {
          Object path = qmp.execute("qom-get", "{\"path\": " + Json.quote("/objects/" + id)
              + ", \"property\": \"mem-path\"}", step);
          Map<String, Object> withPath = new java.util.HashMap<>(m);
          withPath.put("mem-path", path);
          return withPath;
        } catch (IOException notAFile) {
          // shared, but not memory-backend-file
        }
      }
    }
    throw new IOException("QEMU's memory backend is not a shared file (memory-backend-file with share=on): its RAM "
        + "would go into the migration stream instead of staying in the memory file");
  }
}
