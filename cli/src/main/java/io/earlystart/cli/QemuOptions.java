package io.earlystart.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/** The QEMU options {@code launch} and {@code resume} share (a picocli mixin). */
final class QemuOptions {
  @Option(names = "--kernel", required = true, paramLabel = "FILE", description = "The kernel the VM was booted with.")
  Path kernel;

  @Option(names = "--initrd", required = true, paramLabel = "FILE", description = "The initrd the VM was booted with.")
  Path initrd;

  @Option(names = "--port", paramLabel = "PORT", defaultValue = "0",
      description = "Host port for the guest's service on 127.0.0.1 (default: a free one).")
  int port;

  @Option(names = "--qemu", paramLabel = "PROGRAM", defaultValue = "qemu-system-x86_64",
      description = "QEMU binary (default: ${DEFAULT-VALUE}).")
  String qemu;

  @Option(names = "--resume-timeout", paramLabel = "DURATION", defaultValue = "120s",
      converter = DurationConverter.class, description = "Deadline for QEMU to resume (default: ${DEFAULT-VALUE}).")
  Duration resumeTimeout;

  /** --port, or a free one. */
  int hostPort() throws IOException {
    return port != 0 ? port : QemuVm.freePort();
  }
}
