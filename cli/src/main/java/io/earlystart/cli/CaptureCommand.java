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
 * checks for a file-backed, shared memory backend; lets the guest say what it no longer uses (its
 * file systems trimmed through the guest agent, when it has one; with a free-page-reporting balloon,
 * a wait until the memory file stops shrinking); sets {@code x-ignore-shared}, stops the VM, migrates
 * the device state into {@code DIR/vmstate} and writes {@code DIR/vm.json}; then quits QEMU (or, with
 * {@code --keep-running}, lets it run on). See native-notes/holes.md.
 */
@Command(name = "capture", mixinStandardHelpOptions = true,
    description = {"Save a running QEMU VM for earlystart create: device state to DIR/vmstate (RAM stays in QEMU's "
        + "memory file, which must be a memory-backend-file with share=on) and a launch description to DIR/vm.json.",
        "Before it stops the VM, it trims the guest's file systems through the QEMU guest agent (a virtserialport "
            + "named org.qemu.guest_agent.0 on a Unix socket chardev) when the VM has one, and, when the VM has a "
            + "virtio-balloon with free-page-reporting=on, waits until the memory file stops shrinking: deleted "
            + "files and free memory then do not travel in the overlay.",
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
      + "from what QMP tells and the options below; see native-notes/VM.md.")
  Path vmConfig;

  @Option(names = "--kernel", paramLabel = "FILE", description = "The kernel the VM booted (default: QEMU's -kernel, "
      + "asked over QMP); capture records its SHA-256, so that launch and resume check they boot the same.")
  Path kernel;

  @Option(names = "--initrd", paramLabel = "FILE", description = "The initrd it booted (default: QEMU's -initrd).")
  Path initrd;

  @Option(names = "--append", paramLabel = "CMDLINE", description = "Its kernel command line (default: QEMU's "
      + "-append).")
  String append;

  @Option(names = "--guest-port", paramLabel = "PORT", description = "The guest's TCP port launch forwards (default: "
      + "the guest port of QEMU's one hostfwd, else 80).")
  Integer guestPort;

  @Option(names = "--keep-running", description = "Let the VM run on after the capture (its memory file then "
      + "changes again: copy it first).")
  boolean keepRunning;

  @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "60s", converter = DurationConverter.class,
      description = "Deadline of the migration (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(names = "--guest-agent", paramLabel = "SOCKET", description = "The guest agent's Unix socket (default: "
      + "found over QMP: the chardev of the virtserialport named org.qemu.guest_agent.0).")
  Path guestAgent;

  @Option(names = "--no-trim", description = "Do not ask the guest agent to trim the guest's file systems.")
  boolean noTrim;

  @Option(names = "--trim-timeout", paramLabel = "DURATION", defaultValue = "120s",
      converter = DurationConverter.class, description = "Deadline of the guest's fstrim (default: ${DEFAULT-VALUE}).")
  Duration trimTimeout;

  @Option(names = "--settle-timeout", paramLabel = "DURATION", defaultValue = "60s",
      converter = DurationConverter.class, description = "With free-page reporting: at most this long to wait until "
          + "the memory file stops shrinking (default: ${DEFAULT-VALUE}; 0s: do not wait).")
  Duration settleTimeout;

  @Option(names = "--settle-quiet", paramLabel = "DURATION", defaultValue = "5s", converter = DurationConverter.class,
      description = "The memory file has stopped shrinking once it has not shrunk for this long (default: "
          + "${DEFAULT-VALUE}; the guest reports free pages in batches about 2 s apart).")
  Duration settleQuiet;

  @Override
  @SuppressWarnings("unchecked")
  public Integer call() throws Exception {
    Files.createDirectories(out);
    PrintWriter pw = spec.commandLine().getOut();
    Duration step = Duration.ofSeconds(10);
    try (Qmp qmp = Qmp.connect(socket, Duration.ofSeconds(10), () -> true)) {
      Map<String, Object> backend = sharedFileBackend(qmp, step);
      String memPath = (String) backend.get("mem-path");
      long ramBytes = ((Double) backend.get("size")).longValue();
      Boolean balloon = VmDevices.balloon(qmp, step);
      VmDevices.Agent agent = VmDevices.guestAgent(qmp, step);
      List<String> notes = new java.util.ArrayList<>();
      // before the VM stops: a kernel or initrd that cannot be read fails the capture while the VM runs on
      Map<String, Object> description = vmConfig != null ? null : VmDescription.describe(qmp, step, backend, balloon,
          agent != null, new VmDescription.Overrides(kernel, initrd, append, guestPort), notes);
      trim(agent, pw);
      settle(balloon, pw, Path.of(memPath), ramBytes);
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
        Files.writeString(out.resolve("vm.json"), Json.write(description));
        for (String note : notes) {
          pw.println("vm.json: " + note);
        }
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
   * Asks the guest agent ({@code --guest-agent}, else {@code found} over QMP) to trim the guest's file
   * systems; one line says what happened, failures included.
   */
  private void trim(VmDevices.Agent found, PrintWriter pw) {
    if (noTrim) {
      pw.println("trim: skipped (--no-trim)");
      return;
    }
    Path socketPath = guestAgent;
    if (socketPath == null) {
      if (found == null) {
        pw.println("trim: the VM has no guest agent (no virtserialport named " + GuestAgent.PORT_NAME + "): the guest's "
            + "file systems were not trimmed (a guest that mounts them with discard, or runs fstrim, needs none)");
        return;
      }
      if (found.socket() == null) {
        pw.println("trim: the guest agent's chardev " + found.chardev() + " is not a Unix socket QEMU listens on ("
            + GuestAgent.printable(found.filename(), 120) + "): not trimmed; give --guest-agent SOCKET");
        return;
      }
      socketPath = found.socket();
    }
    long t0 = System.nanoTime();
    try (GuestAgent agent = GuestAgent.connect(socketPath, Duration.ofSeconds(10))) {
      StringBuilder b = new StringBuilder();
      long total = 0;
      for (Map<String, Object> fs : agent.fstrim(trimTimeout)) {
        String path = GuestAgent.printable(String.valueOf(fs.get("path")), 120);
        b.append(b.length() == 0 ? "" : ", ").append(path);
        if (fs.get("error") != null) {
          b.append(" (failed: ").append(GuestAgent.printable(String.valueOf(fs.get("error")), 120)).append(')');
        } else if (fs.get("trimmed") instanceof Double d) {
          b.append(" (").append(Units.bytes(d.longValue())).append(')');
          total += d.longValue();
        }
      }
      pw.printf("trim: the guest agent trimmed %s in %d ms: %s%n", Units.bytes(total),
          (System.nanoTime() - t0) / 1_000_000, b.length() == 0 ? "no file systems" : b);
    } catch (IOException e) {
      pw.println("trim: not trimmed: " + e.getMessage());
    }
    pw.flush();
  }

  /**
   * With a free-page-reporting balloon, waits until the memory file's allocation has not shrunk for
   * {@link #settleQuiet} (QEMU punches out the pages the guest reports, in batches) or {@link #settleTimeout}.
   */
  private void settle(Boolean balloon, PrintWriter pw, Path memory, long ramBytes)
      throws IOException, InterruptedException {
    if (!Boolean.TRUE.equals(balloon)) {
      pw.println("free memory: the VM has no virtio-balloon with free-page-reporting=on: free pages travel as they are");
      pw.flush();
      return;
    }
    if (settleTimeout.isZero()) {
      pw.println("free memory: not waiting for free-page reporting (--settle-timeout 0s)");
      return;
    }
    long t0 = System.nanoTime();
    long first = io.earlystart.overlay.io.DataRanges.of(memory, ramBytes).dataBytes();
    long low = first;
    long quietSince = t0;
    boolean settled = true;
    while (System.nanoTime() - quietSince < settleQuiet.toNanos()) {
      if (System.nanoTime() - t0 >= settleTimeout.toNanos()) {
        settled = false;
        break;
      }
      Thread.sleep(250);
      long now = io.earlystart.overlay.io.DataRanges.of(memory, ramBytes).dataBytes();
      if (now < low) {
        low = now;
        quietSince = System.nanoTime();
      }
    }
    pw.printf("free memory: %s allocated in %s %s after %d ms (%s when the wait began)%n", Units.bytes(low), memory,
        settled ? "no longer shrinking" : "still shrinking", (System.nanoTime() - t0) / 1_000_000, Units.bytes(first));
    pw.flush();
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
