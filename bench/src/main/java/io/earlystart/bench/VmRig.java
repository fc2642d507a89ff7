package io.earlystart.bench;

import io.earlystart.cli.example.ExampleImages;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Locale;
import java.util.stream.Stream;

/** The real VMs for {@link VmFirstResponseBenchmark}: built by vm/build.sh or vm/debian, and their xdelta3 + xz peer. */
final class VmRig {
  private VmRig() {}

  /** What differs between the VMs: how they are built, booted and asked. */
  enum Kind {
    /** The busybox test VM of vm/build.sh. */
    TEST("vm-first-response", "initramfs.cpio.gz", "/cgi-bin/infer"),
    /** The Debian 12 VM of vm/debian/build.sh and app.sh. */
    DEBIAN("vm-first-response-debian", "kernel/initrd.img", "/");

    private final String workName;
    private final String initrd;
    private final String path;

    Kind(String workName, String initrd, String path) {
      this.workName = workName;
      this.initrd = initrd;
      this.path = path;
    }

    static Kind of(String name) {
      return switch (name) {
        case "test" -> TEST;
        case "debian" -> DEBIAN;
        default -> throw new IllegalArgumentException("vm must be test or debian: " + name);
      };
    }

    /** The benchmark's work directory under {@link ExampleWorkload#root()}. */
    String workName() {
      return workName;
    }

    /** The initrd, relative to the VM directory. */
    String initrd() {
      return initrd;
    }

    /** The app's URL path. */
    String path() {
      return path;
    }
  }

  /**
   * Builds the VM (the scripts do nothing when it is already built from the same inputs) and drops
   * {@code WORK/served} and the traces when the VM is newer than them. The test VM goes to {@code WORK/vm};
   * the Debian VM to {@code -Dearlystart.bench.debvm} (default {@code WORK/debvm}).
   */
  static Path ensureVm(Path root, Path work, Kind kind) throws IOException, InterruptedException {
    Path vm;
    Path log = work.resolve("vm-build.log");
    if (kind == Kind.TEST) {
      vm = work.resolve("vm");
      ExampleWorkload.log("vm/build.sh " + vm + " (log " + log + ")");
      ExternalTool.run(ExternalTool.Step.of(log, root.resolve("vm/build.sh").toString(), vm.toString()));
    } else {
      vm = Path.of(System.getProperty("earlystart.bench.debvm", work.resolve("debvm").toString())).toAbsolutePath();
      ExampleWorkload.log("vm/debian/build.sh and app.sh " + vm + " (log " + log + ")");
      ExternalTool.run(ExternalTool.Step.of(log, root.resolve("vm/debian/build.sh").toString(), vm.toString()));
      ExternalTool.run(ExternalTool.Step.of(work.resolve("vm-app.log"), root.resolve("vm/debian/app.sh").toString(),
          vm.toString()));
    }
    FileTime built = Files.getLastModifiedTime(vm.resolve("app/vmstate"));
    Path served = work.resolve("served");
    if (Files.isDirectory(served)) {
      try (Stream<Path> s = Files.list(served)) {
        boolean stale = s.anyMatch(p -> {
          try {
            return Files.getLastModifiedTime(p).compareTo(built) < 0;
          } catch (IOException e) {
            return true;
          }
        });
        if (stale) {
          ExampleImages.deleteRecursively(served);
          ExampleImages.deleteRecursively(work.resolve("xdelta-xz"));
        }
      }
    }
    return vm;
  }

  /**
   * {@code to}: a VM directory that {@code earlystart resume} may run without touching {@code from}: a
   * sparse copy of memory.img (QEMU 7.2 punches the pages a balloon reports free out of the RAM file even
   * when it maps it share=off, native-notes/VM.md) and hard links to disk.img (resumed with -snapshot),
   * vmstate and vm.json.
   */
  static void resumableCopy(Path from, Path to) throws IOException, InterruptedException {
    Files.createDirectories(to);
    ExternalTool.run(ExternalTool.Step.of(to.resolve("copy.log"), "cp", "--sparse=always",
        from.resolve("memory.img").toString(), to.resolve("memory.img").toString()));
    for (String f : new String[] {"disk.img", "vmstate", "vm.json"}) {
      Files.createLink(to.resolve(f), from.resolve(f));
    }
  }

  /**
   * Logs the overlay's size against the paper's tool chain for the same VM: xdelta3 -9 (whole-image
   * window) of each image against its base, then xz -9, plus xz -9 of vmstate and vm.json. Made once
   * into {@code dir} and reused.
   */
  static void logSizes(Path vm, Path overlay, Path dir) throws IOException, InterruptedException {
    ExampleImages.Result in = new ExampleImages.Result(vm.resolve("base/disk.img"), vm.resolve("base/memory.img"),
        vm.resolve("app/disk.img"), vm.resolve("app/memory.img"), vm.resolve("app/vmstate"), vm.resolve("app/vm.json"));
    Path done = dir.resolve("done");
    if (!Files.isRegularFile(done)) {
      XdeltaXzChain.requireTools();
      ExampleImages.deleteRecursively(dir);
      Files.createDirectories(dir);
      long window = Math.max(Files.size(in.disk()), Files.size(in.memory()));
      new XdeltaXzChain(true, true).create(in, window, dir);
      Files.writeString(done, "");
    }
    long peer = 0;
    StringBuilder parts = new StringBuilder();
    for (Path p : XdeltaXzChain.overlayFiles(in, dir)) {
      peer += Files.size(p);
      parts.append(' ').append(p.getFileName()).append('=').append(Files.size(p));
    }
    long ours = Files.size(overlay);
    long images = Files.size(in.disk()) + Files.size(in.memory());
    ExampleWorkload.log(String.format(Locale.ROOT, "vm overlay sizes: earlystart %d bytes, xdelta3 -9 + xz -9 %d bytes "
        + "(%s) -> earlystart/xdelta3+xz = %.3f; images %d bytes", ours, peer, parts.toString().strip(),
        (double) ours / peer, images));
  }
}
