package io.earlystart.bench;

import io.earlystart.cli.example.ExampleImages;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Locale;
import java.util.stream.Stream;

/** The real test VM for {@link VmFirstResponseBenchmark}: built by vm/build.sh, and its xdelta3 + xz peer. */
final class VmRig {
  private VmRig() {}

  /**
   * Runs {@code vm/build.sh WORK/vm} (it does nothing when the VM is already built from the same vm/
   * files) and drops {@code WORK/served} and the traces when the VM is newer than them.
   */
  static Path ensureVm(Path root, Path work) throws IOException, InterruptedException {
    Path vm = work.resolve("vm");
    Path log = work.resolve("vm-build.log");
    ExampleWorkload.log("vm/build.sh " + vm + " (log " + log + ")");
    ExternalTool.run(ExternalTool.Step.of(log, root.resolve("vm/build.sh").toString(), vm.toString()));
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
