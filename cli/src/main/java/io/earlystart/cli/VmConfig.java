package io.earlystart.cli;

import io.earlystart.overlay.base.BaseMismatchException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** What launch and resume take from vm.json (see native-notes/VM.md). */
final class VmConfig {
  String ram = "256M";
  String machine = "pc";
  String accel = "tcg";
  int smp = 1;
  String backendId = "pc.ram";
  String append = "console=ttyS0";
  String diskCache = "writeback";
  /**
   * The drive's {@code discard} and {@code detect-zeroes}: guest discards and all-zero writes become
   * holes in disk.img. Block-layer options, not device state: a VM saved without them (vm.json without
   * the keys) resumes with them as well.
   */
  String diskDiscard = "unmap";
  String diskDetectZeroes = "unmap";
  int guestPort = 80;
  /**
   * The balloon with free-page reporting ({@code "balloon": {"freePageReporting": true}}): the guest reports
   * free pages and QEMU punches them out of memory.img. Device state: a VM saved with it resumes only with
   * it, and one saved without it (vm.json without the key) only without.
   */
  boolean balloon;
  boolean freePageReporting;
  /**
   * The QEMU guest agent's port ({@code "guestAgent": {"port": "org.qemu.guest_agent.0"}}): a virtio-serial
   * controller with that port, on a Unix socket {@code RUN/qga.sock} QEMU listens on. Device state, as the
   * balloon.
   */
  String guestAgentPort;
  /** SHA-256 (hex) of the kernel and initrd the VM was booted with, when vm.json records them. */
  String kernelSha256;
  String initrdSha256;

  @SuppressWarnings("unchecked")
  static VmConfig parse(String json) {
    Object o;
    try {
      o = Json.parse(json);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("vm.json is not JSON: " + e.getMessage());
    }
    if (!(o instanceof Map<?, ?>)) {
      throw new IllegalArgumentException("vm.json is not a JSON object");
    }
    Map<String, Object> m = (Map<String, Object>) o;
    VmConfig c = new VmConfig();
    c.ram = string(m, "ram", c.ram);
    c.machine = string(m, "machine", c.machine);
    c.accel = string(m, "accel", c.accel);
    c.append = string(m, "append", c.append);
    if (m.get("smp") instanceof Double d) {
      c.smp = d.intValue();
    }
    if (m.get("memoryBackend") instanceof Map<?, ?> b && b.get("id") instanceof String id) {
      c.backendId = id;
    }
    if (m.get("disk") instanceof Map<?, ?> d) {
      Map<String, Object> disk = (Map<String, Object>) d;
      c.diskCache = option(disk, "cache", c.diskCache);
      c.diskDiscard = option(disk, "discard", c.diskDiscard);
      c.diskDetectZeroes = option(disk, "detectZeroes", c.diskDetectZeroes);
    }
    if (m.get("balloon") instanceof Map<?, ?> b) {
      c.balloon = true;
      c.freePageReporting = Boolean.TRUE.equals(b.get("freePageReporting"));
    } else if (m.containsKey("balloon") && m.get("balloon") != null) {
      throw new IllegalArgumentException("vm.json: balloon must be an object like {\"freePageReporting\": true}");
    }
    if (m.get("guestAgent") instanceof Map<?, ?> g) {
      Object port = g.get("port");
      c.guestAgentPort = port == null ? GuestAgent.PORT_NAME : String.valueOf(port);
      if (!c.guestAgentPort.matches("[A-Za-z0-9._-]+")) {
        throw new IllegalArgumentException("vm.json: guestAgent.port must be a name like \"" + GuestAgent.PORT_NAME + "\"");
      }
    } else if (m.get("guestAgent") != null) {
      throw new IllegalArgumentException("vm.json: guestAgent must be an object like {\"port\": \""
          + GuestAgent.PORT_NAME + "\"}");
    }
    if (m.get("net") instanceof Map<?, ?> n && n.get("guestPort") instanceof Double p) {
      c.guestPort = p.intValue();
    }
    c.kernelSha256 = string(m, "kernelSha256", null);
    c.initrdSha256 = string(m, "initrdSha256", null);
    return c;
  }

  private static String string(Map<String, Object> m, String key, String fallback) {
    return m.get(key) instanceof String s ? s : fallback;
  }

  /** A value that goes into a QEMU option list: letters, digits and dashes only (no comma, no "="). */
  private static String option(Map<String, Object> m, String key, String fallback) {
    String v = string(m, key, fallback);
    if (!v.matches("[A-Za-z0-9-]+")) {
      throw new IllegalArgumentException("vm.json: disk." + key + " must be a word like \"" + fallback + "\"");
    }
    return v;
  }

  /**
   * A resume needs the kernel and initrd the VM was booted with (QEMU loads them as option ROMs, whose
   * sizes the vmstate records; a different pair fails the migration, or resumes a guest that crashes).
   * Checks them against vm.json's SHA-256s when it has them.
   *
   * @throws BaseMismatchException naming the file and both digests
   */
  private void checkBootFiles(java.nio.file.Path kernel, java.nio.file.Path initrd) throws java.io.IOException {
    check("kernel", kernel, kernelSha256);
    check("initrd", initrd, initrdSha256);
  }

  /**
   * {@link #checkBootFiles} on a daemon thread (hashing ~10 MB in a fresh JVM takes ~75 ms): the returned
   * check waits for it and throws what it found; call it before the guest runs.
   */
  QemuVm.Check checkBootFilesAsync(java.nio.file.Path kernel, java.nio.file.Path initrd) {
    java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        checkBootFiles(kernel, initrd);
        done.complete(null);
      } catch (Throwable e) {
        done.completeExceptionally(e);
      }
    }, "earlystart-boot-files-check");
    t.setDaemon(true);
    t.start();
    return () -> {
      try {
        done.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while checking " + kernel + " and " + initrd);
      } catch (java.util.concurrent.ExecutionException e) {
        if (e.getCause() instanceof java.io.IOException io) {
          throw io;
        }
        throw new java.io.IOException("checking " + kernel + " and " + initrd + ": " + e.getCause(), e.getCause());
      }
    };
  }

  private static void check(String what, java.nio.file.Path file, String expected) throws java.io.IOException {
    if (expected == null) {
      return;
    }
    String actual = VmDescription.sha256(file, what);
    if (!actual.equalsIgnoreCase(expected)) {
      throw new BaseMismatchException(file + " is not the " + what + " this VM was booted with "
          + "(sha256 " + actual + ", vm.json says " + expected + ")");
    }
  }

  /** The command line of vm/lib.sh's vm_argv with {@code -incoming defer}, on the images in {@code images}. */
  List<String> argv(String qemu, Path kernel, Path initrd, Path images, boolean share, int hostPort, Path run) {
    for (Path p : List.of(kernel, initrd, images, run)) {
      if (p.toString().contains(",")) {
        throw new IllegalArgumentException("QEMU cannot take a path with a comma: " + p);
      }
    }
    List<String> argv = new ArrayList<>(List.of(qemu, "-nodefaults", "-no-user-config", "-no-reboot",
        "-machine", machine + ",accel=" + accel + ",memory-backend=" + backendId, "-m", ram,
        "-object", "memory-backend-file,id=" + backendId + ",size=" + ram + ",mem-path=" + images.resolve("memory.img")
            + ",share=" + (share ? "on" : "off"),
        "-smp", Integer.toString(smp), "-display", "none", "-vga", "none",
        "-kernel", kernel.toAbsolutePath().toString(), "-initrd", initrd.toAbsolutePath().toString(),
        "-append", append,
        "-drive", "file=" + images.resolve("disk.img") + ",format=raw,if=none,id=d0,cache=" + diskCache
            + ",discard=" + diskDiscard + ",detect-zeroes=" + diskDetectZeroes,
        "-device", "virtio-blk-pci,drive=d0",
        "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:" + hostPort + "-:" + guestPort,
        "-device", "virtio-net-pci,netdev=n0,romfile=",
        "-serial", "file:" + run.resolve("serial.log"), "-qmp", "unix:" + run.resolve("qmp.sock") + ",server=on,wait=off"));
    if (balloon) { // after the NIC, as vm_argv puts it: PCI slots follow the command line's order
      argv.addAll(List.of("-device", "virtio-balloon-pci,free-page-reporting=" + (freePageReporting ? "on" : "off")));
    }
    if (guestAgentPort != null) { // after the balloon, as vm_argv puts it
      argv.addAll(List.of("-device", "virtio-serial-pci", "-chardev", "socket,id=qga0,path=" + run.resolve("qga.sock")
          + ",server=on,wait=off", "-device", "virtserialport,chardev=qga0,name=" + guestAgentPort));
    }
    argv.addAll(List.of("-incoming", "defer"));
    return argv;
  }
}
