package io.earlystart.cli;

import io.earlystart.overlay.io.Hex;
import io.earlystart.overlay.io.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The vm.json {@code capture} writes (native-notes/VM.md, "vm.json"): what QMP can tell is asked of the
 * running QEMU (machine, accelerator, CPUs, RAM backend, the drive's cache and zero detection, the balloon,
 * the kernel, initrd and command line it was started with, the guest port of its one host forward); the
 * rest comes from capture's options, which also override what QMP says. The kernel and initrd are hashed
 * here, so that a resume can check it boots the same files. Stateless.
 */
final class VmDescription {
  private static final Pattern HOST_FORWARD =
      Pattern.compile("TCP\\[HOST_FORWARD\\]\\s+\\d+\\s+\\S+\\s+(\\d+)\\s+\\S+\\s+(\\d+)");

  private VmDescription() {}

  /** What the user gave on capture's command line (null: ask QMP). */
  record Overrides(Path kernel, Path initrd, String append, Integer guestPort) {}

  /**
   * @param backend query-memdev's entry of the shared file backend
   * @param balloon {@link VmDevices#balloon}
   * @param guestAgent whether {@link VmDevices#guestAgent} found the agent's port (device state to record)
   * @param notes lines for the user (what was assumed)
   * @throws IOException a kernel or initrd that cannot be read (before the VM is stopped)
   */
  @SuppressWarnings("unchecked")
  static Map<String, Object> describe(Qmp qmp, Duration step, Map<String, Object> backend, Boolean balloon,
      boolean guestAgent, Overrides given, List<String> notes) throws IOException {
    Map<String, Object> d = new LinkedHashMap<>();
    long ramBytes = ((Double) backend.get("size")).longValue();
    d.put("format", 1);
    d.put("ram", (ramBytes >> 20) + "M");
    d.put("ramBytes", ramBytes);
    d.put("machine", String.valueOf(machine(qmp, "type", step)).replaceFirst("-machine$", ""));
    Object kvm = qmp.execute("query-kvm", null, step);
    d.put("accel", kvm instanceof Map<?, ?> k && Boolean.TRUE.equals(k.get("enabled")) ? "kvm" : "tcg");
    d.put("smp", ((List<Object>) qmp.execute("query-cpus-fast", null, step)).size());
    Map<String, Object> mem = new LinkedHashMap<>();
    mem.put("id", backend.get("id"));
    mem.put("type", "memory-backend-file");
    mem.put("file", "memory.img");
    mem.put("share", true);
    d.put("memoryBackend", mem);
    d.put("disk", disk(qmp, step, notes));
    Map<String, Object> net = new LinkedHashMap<>();
    net.put("type", "user");
    net.put("guestPort", given.guestPort() != null ? given.guestPort() : guestPort(qmp, step, notes));
    d.put("net", net);
    Path kernel = given.kernel() != null ? given.kernel() : path(machine(qmp, "kernel", step));
    Path initrd = given.initrd() != null ? given.initrd() : path(machine(qmp, "initrd", step));
    if (kernel == null) {
      notes.add("QEMU was started without -kernel: launch and resume boot a kernel directly, give --kernel and "
          + "--initrd");
    } else {
      d.put("kernel", kernel.toAbsolutePath().toString());
      d.put("kernelSha256", sha256(kernel, "kernel"));
    }
    if (initrd != null) {
      d.put("initrd", initrd.toAbsolutePath().toString());
      d.put("initrdSha256", sha256(initrd, "initrd"));
    }
    Object append = given.append() != null ? given.append() : machine(qmp, "append", step);
    d.put("append", append == null ? "" : String.valueOf(append));
    if (balloon != null) {
      Map<String, Object> b = new LinkedHashMap<>();
      b.put("device", "virtio-balloon-pci");
      b.put("freePageReporting", balloon);
      d.put("balloon", b);
    }
    if (guestAgent) {
      Map<String, Object> g = new LinkedHashMap<>();
      g.put("device", "virtio-serial-pci");
      g.put("port", GuestAgent.PORT_NAME);
      d.put("guestAgent", g);
    }
    if (qmp.execute("query-version", null, step) instanceof Map<?, ?> v && v.get("qemu") instanceof Map<?, ?> q) {
      d.put("qemu", "QEMU " + number(q.get("major")) + "." + number(q.get("minor")) + "." + number(q.get("micro")));
    }
    return d;
  }

  private static Object machine(Qmp qmp, String property, Duration step) throws IOException {
    try {
      return qmp.execute("qom-get", "{\"path\": \"/machine\", \"property\": " + Json.quote(property) + "}", step);
    } catch (IOException e) {
      return null; // a machine type without the property
    }
  }

  private static Path path(Object qomValue) {
    return qomValue instanceof String s && !s.isEmpty() ? Path.of(s) : null;
  }

  private static String number(Object o) {
    return o instanceof Double d ? Long.toString(d.longValue()) : String.valueOf(o);
  }

  /** The first drive with a medium: its cache mode and zero detection (discard is unmap where that is unmap). */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> disk(Qmp qmp, Duration step, List<String> notes) throws IOException {
    Map<String, Object> disk = new LinkedHashMap<>();
    List<Map<String, Object>> drives = new ArrayList<>();
    for (Object o : (List<Object>) qmp.execute("query-block", null, step)) {
      Map<String, Object> b = (Map<String, Object>) o;
      if (b.get("inserted") instanceof Map<?, ?> in) {
        drives.add((Map<String, Object>) in);
      }
    }
    if (drives.isEmpty()) {
      notes.add("QEMU has no drive with a medium: vm.json says nothing of the disk");
      return disk;
    }
    if (drives.size() > 1) {
      notes.add("QEMU has " + drives.size() + " drives; vm.json describes the first, " + drives.get(0).get("file"));
    }
    Map<String, Object> in = drives.get(0);
    disk.put("file", "disk.img");
    disk.put("format", in.get("drv"));
    if (in.get("cache") instanceof Map<?, ?> c) {
      disk.put("cache", cacheMode(Boolean.TRUE.equals(c.get("writeback")), Boolean.TRUE.equals(c.get("direct")),
          Boolean.TRUE.equals(c.get("no-flush"))));
    }
    Object zeroes = in.get("detect_zeroes");
    if ("unmap".equals(zeroes)) { // QEMU allows detect-zeroes=unmap only with discard=unmap
      disk.put("discard", "unmap");
    }
    if (zeroes instanceof String z) {
      disk.put("detectZeroes", z);
    }
    return disk;
  }

  /** QEMU's -drive cache= mode from query-block's three flags. */
  static String cacheMode(boolean writeback, boolean direct, boolean noFlush) {
    if (noFlush) {
      return "unsafe";
    }
    if (direct) {
      return writeback ? "none" : "directsync";
    }
    return writeback ? "writeback" : "writethrough";
  }

  /** The guest port of the VM's one TCP host forward (HMP {@code info usernet}), else 80 with a note. */
  private static int guestPort(Qmp qmp, Duration step, List<String> notes) throws IOException {
    Object text;
    try {
      text = qmp.execute("human-monitor-command", "{\"command-line\": \"info usernet\"}", step);
    } catch (IOException e) {
      text = "";
    }
    List<Integer> ports = guestPorts(String.valueOf(text));
    if (ports.size() == 1) {
      return ports.get(0);
    }
    notes.add("the VM has " + (ports.isEmpty() ? "no" : ports.size()) + " TCP host forwards (hostfwd): the guest port "
        + "in vm.json is 80; give --guest-port for another");
    return 80;
  }

  /** The guest ports of the TCP host forwards in HMP's {@code info usernet} output. */
  static List<Integer> guestPorts(String infoUsernet) {
    List<Integer> ports = new ArrayList<>();
    Matcher m = HOST_FORWARD.matcher(infoUsernet);
    while (m.find()) {
      ports.add(Integer.parseInt(m.group(2)));
    }
    return ports;
  }

  /** SHA-256 (hex) of {@code file}; a missing file is an error naming it as the {@code what}. */
  static String sha256(Path file, String what) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new java.nio.file.NoSuchFileException(file.toString(), null, what + " not found (give --" + what + ")");
    }
    MessageDigest md = Sha256.newDigest();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return Hex.of(md.digest());
  }
}
