package io.earlystart.overlay;

import java.util.Arrays;

/**
 * A named file carried by the overlay (vmstate, vm.json) as one zstd frame in the data area.
 * {@code offset} is relative to the start of the data area. Immutable.
 */
public record Attachment(String name, long offset, int length, int rawLength, byte[] sha256) {

  public static final String VMSTATE = "vmstate";
  public static final String VM_CONFIG = "vm.json";

  public long end() {
    return offset + length;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Attachment a && a.name.equals(name) && a.offset == offset && a.length == length
        && a.rawLength == rawLength && Arrays.equals(a.sha256, sha256);
  }

  @Override
  public int hashCode() {
    return name.hashCode();
  }
}
