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

  @Test
  void aValueThatWouldSmuggleOptionsIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> VmConfig.parse("{\"disk\": {\"discard\": \"unmap,file=/etc/passwd\"}}"));
    assertTrue(e.getMessage().contains("disk.discard"), e.getMessage());
  }
}
