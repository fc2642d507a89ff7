package io.earlystart.fusefs.fuse;

import java.util.ArrayList;
import java.util.List;

/**
 * The libfuse options of an early-start mount, chosen for QEMU on libfuse 2.9 (native-notes/FUSE.md):
 * {@code kernel_cache}, {@code max_read=131072}, {@code auto_unmount} (a killed JVM leaves no stale
 * mount), long attribute and entry timeouts, and for the images the guest writes {@code big_writes}
 * with {@code max_write=131072}. Not {@code ro}: read-only files are enforced by {@link ImageFs#open}.
 * Never {@code direct_io}: it makes {@code mmap(MAP_SHARED)} fail with ENODEV, which breaks {@code
 * memory-backend-file,share=on}. Constants only.
 */
public final class MountOptions {
  /** Mount options for a read-only image file system under libfuse 2.9. */
  public static final List<String> DEFAULTS = List.of(
      "kernel_cache", "max_read=131072", "auto_unmount",
      "entry_timeout=3600", "attr_timeout=3600", "negative_timeout=3600");

  /**
   * Added for images the guest writes: without them libfuse 2 splits writes into 4 KiB requests
   * (QEMU's {@code share=on} RAM write-back and disk writes come in larger pieces).
   */
  public static final List<String> WRITES = List.of("big_writes", "max_write=131072");

  private MountOptions() {}

  /** {@link #DEFAULTS}, {@link #WRITES}, then {@code extra}: the options of an early-start mount. */
  public static List<String> writable(List<String> extra) {
    List<String> all = new ArrayList<>(DEFAULTS);
    all.addAll(WRITES);
    all.addAll(extra);
    return List.copyOf(all);
  }
}
