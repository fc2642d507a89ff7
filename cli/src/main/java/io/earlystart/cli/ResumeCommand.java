package io.earlystart.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code earlystart resume DIR}: the classic end of VM synthesis, and the local floor of the
 * first-response benchmark: stock QEMU resumed from the plain files in DIR (disk.img, memory.img,
 * vmstate, vm.json, as {@code synthesize} writes them or {@code capture} saved them), the same way
 * {@code launch} resumes from its mount. RAM is a private mapping of memory.img (never written back), unless
 * {@code --share}: then the guest writes to memory.img, and the VM can be captured again.
 */
@Command(name = "resume", mixinStandardHelpOptions = true,
    description = {"Resume the VM saved in DIR (disk.img, memory.img, vmstate, vm.json: what synthesize writes) in "
        + "QEMU; its guest port is forwarded to 127.0.0.1:PORT. Runs until QEMU exits or SIGINT/SIGTERM.",
        "The guest writes to DIR/disk.img (pass -- -snapshot to keep it as it is). Arguments after -- go to QEMU."})
final class ResumeCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "DIR", description = "Directory with disk.img, memory.img, vmstate, vm.json.")
  Path dir;

  @Parameters(index = "1..*", paramLabel = "QEMU_ARG", arity = "0..*", description = "Extra QEMU arguments (after --).")
  List<String> qemuArgs = new ArrayList<>();

  @picocli.CommandLine.Mixin
  QemuOptions qemu;

  @Option(names = "--run-dir", paramLabel = "DIR",
      description = "Where QEMU's QMP socket and logs go (default: a new directory under the system's temp dir).")
  Path runDir;

  @Option(names = "--share", description = "RAM share=on: guest writes go back to DIR/memory.img, so that the "
      + "resumed VM can be captured again (e.g. a base customised in place). Default share=off: a private mapping.")
  boolean share;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Path images = dir.toAbsolutePath().normalize();
    for (Path p : List.of(images.resolve("disk.img"), images.resolve("memory.img"), images.resolve("vmstate"),
        images.resolve("vm.json"), qemu.kernel, qemu.initrd)) {
      if (!Files.isReadable(p)) {
        throw new NoSuchFileException(p.toString(), null, "a VM's images, vmstate, vm.json, kernel or initrd not found");
      }
    }
    VmConfig vm = VmConfig.parse(Files.readString(images.resolve("vm.json"), StandardCharsets.UTF_8));
    QemuVm.Check bootFiles = vm.checkBootFilesAsync(qemu.kernel, qemu.initrd); // while QEMU starts, before the guest runs
    Path run = (runDir != null ? Files.createDirectories(runDir) : Files.createTempDirectory("earlystart-resume"))
        .toAbsolutePath().normalize();
    int hostPort = qemu.hostPort();
    List<String> argv = vm.argv(qemu.qemu, qemu.kernel, qemu.initrd, images, share, hostPort, run);
    argv.addAll(qemuArgs);
    CountDownLatch finished = new CountDownLatch(1);
    long t0 = System.nanoTime();
    QemuVm q = QemuVm.start(argv, List.of(), run);
    ShutdownHook hook = new ShutdownHook(q.shutdownHook(finished));
    try {
      q.resume(images.resolve("vmstate"), qemu.resumeTimeout, bootFiles);
      out.printf("resumed %s: QEMU start to running %s, guest port %d at 127.0.0.1:%d (QEMU pid %d; log %s)%n", images,
          Units.seconds(System.nanoTime() - t0), vm.guestPort, hostPort, q.process().pid(), q.log());
      out.flush();
      q.waitForExit(QemuVm.Check.NONE);
      out.printf("QEMU exited with %d%n", q.process().exitValue());
      out.flush();
      if (runDir == null) {
        io.earlystart.cli.example.ExampleImages.deleteRecursively(run); // only what this run made: its logs
      }
    } finally {
      q.stop();
      hook.close();
      finished.countDown();
    }
    return 0;
  }
}
