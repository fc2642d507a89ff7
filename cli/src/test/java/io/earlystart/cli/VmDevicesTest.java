package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** How capture reads QEMU's chardev descriptions and quotes what the guest sends. */
class VmDevicesTest {
  @Test
  void theAgentsSocketIsAUnixSocketQemuListensOn() {
    assertEquals(Path.of("/run/qga.sock"), VmDevices.unixServerPath("unix:/run/qga.sock,server=on"));
    assertEquals(Path.of("/run/qga.sock"), VmDevices.unixServerPath("disconnected:unix:/run/qga.sock,server=on"));
    assertNull(VmDevices.unixServerPath("unix:/run/qga.sock")); // QEMU connects out: nobody can connect in
    assertNull(VmDevices.unixServerPath("pty:/dev/pts/3"));
    assertNull(VmDevices.unixServerPath("file"));
    assertNull(VmDevices.unixServerPath("unix:,server=on"));
  }

  @Test
  void whatTheGuestSendsIsQuotedAndBounded() {
    assertEquals("/", GuestAgent.printable("/", 10));
    assertEquals("a\\u000ab\\u001b[1m", GuestAgent.printable("a\nb\u001b[1m", 100));
    assertEquals("0123456789...", GuestAgent.printable("0123456789abc", 10));
    assertEquals("0123456789", GuestAgent.printable("0123456789", 10));
    assertEquals("\\u005c", GuestAgent.printable("\\", 10));
  }
}
