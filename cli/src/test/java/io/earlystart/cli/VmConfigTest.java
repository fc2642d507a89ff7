package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The QEMU command line resume and launch build from vm.json (LaunchIT resumes the real VM with it). */
class VmConfigTest {
  private static String drive(String vmJson) {
    List<String> argv = VmConfig.parse(vmJson).argv("qemu", Path.of("/k"), Path.of("/i"), Path.of("/vm"), false,
        8080, Path.of("/run"));
    return argv.get(argv.indexOf("-drive") + 1);
  }

  @Test
  void theDrivePassesDiscardsOnAsRecordedInVmJson() {
    assertEquals("file=/vm/disk.img,format=raw,if=none,id=d0,cache=writeback,discard=unmap,detect-zeroes=unmap",
        drive("{\"disk\": {\"cache\": \"writeback\", \"discard\": \"unmap\", \"detectZeroes\": \"unmap\"}}"));
    assertEquals("file=/vm/disk.img,format=raw,if=none,id=d0,cache=none,discard=ignore,detect-zeroes=off",
        drive("{\"disk\": {\"cache\": \"none\", \"discard\": \"ignore\", \"detectZeroes\": \"off\"}}"));
  }

  /** A VM saved before vm.json had the keys: discards on all the same (drive options are not device state). */
  @Test
  void aVmSavedWithoutTheKeysGetsDiscardsToo() {
    assertEquals("file=/vm/disk.img,format=raw,if=none,id=d0,cache=writeback,discard=unmap,detect-zeroes=unmap",
        drive("{\"disk\": {\"cache\": \"writeback\"}}"));
    assertTrue(drive("{}").endsWith(",discard=unmap,detect-zeroes=unmap"));
  }

  private static List<String> argv(String vmJson) {
    return VmConfig.parse(vmJson).argv("qemu", Path.of("/k"), Path.of("/i"), Path.of("/vm"), false, 8080,
        Path.of("/run"));
  }

  /** The balloon is device state: present exactly when vm.json says so, and before -incoming. */
  @Test
  void theBalloonIsThereOnlyWhenVmJsonHasIt() {
    List<String> with = argv("{\"balloon\": {\"device\": \"virtio-balloon-pci\", \"freePageReporting\": true}}");
    int i = with.indexOf("virtio-balloon-pci,free-page-reporting=on");
    assertTrue(i > 0 && with.get(i - 1).equals("-device"), with.toString());
    assertTrue(i > with.indexOf("virtio-net-pci,netdev=n0,romfile=") && i < with.indexOf("-incoming"), with.toString());
    assertTrue(argv("{\"balloon\": {}}").contains("virtio-balloon-pci,free-page-reporting=off"));
    assertTrue(argv("{}").stream().noneMatch(a -> a.contains("balloon")));
    assertTrue(argv("{\"balloon\": null}").stream().noneMatch(a -> a.contains("balloon")));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VmConfig.parse("{\"balloon\": true}"));
    assertTrue(e.getMessage().contains("balloon"), e.getMessage());
  }

  /** The guest agent's port is device state too: after the balloon, on a socket in the run directory. */
  @Test
  void theGuestAgentsPortIsThereOnlyWhenVmJsonHasIt() {
    List<String> with = argv("{\"balloon\": {\"freePageReporting\": true}, \"guestAgent\": {\"port\": "
        + "\"org.qemu.guest_agent.0\"}}");
    int serial = with.indexOf("virtio-serial-pci");
    assertTrue(serial > with.indexOf("virtio-balloon-pci,free-page-reporting=on"), with.toString());
    assertEquals("socket,id=qga0,path=/run/qga.sock,server=on,wait=off", with.get(serial + 2), with.toString());
    assertEquals("virtserialport,chardev=qga0,name=org.qemu.guest_agent.0", with.get(serial + 4), with.toString());
    assertTrue(serial + 4 < with.indexOf("-incoming"), with.toString());
    assertTrue(argv("{\"guestAgent\": {}}").contains("virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"));
    assertTrue(argv("{}").stream().noneMatch(a -> a.contains("serial-pci") || a.contains("qga")));
    assertThrows(IllegalArgumentException.class, () -> VmConfig.parse("{\"guestAgent\": \"yes\"}"));
    assertThrows(IllegalArgumentException.class,
        () -> VmConfig.parse("{\"guestAgent\": {\"port\": \"x,chardev=evil\"}}"));
  }

  @Test
  void aValueThatWouldSmuggleOptionsIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> VmConfig.parse("{\"disk\": {\"discard\": \"unmap,file=/etc/passwd\"}}"));
    assertTrue(e.getMessage().contains("disk.discard"), e.getMessage());
  }
}
