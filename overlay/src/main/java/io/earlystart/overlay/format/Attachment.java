package io.earlystart.overlay.format;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdException;
import io.earlystart.overlay.io.Sha256;
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

  /**
   * The attachment's bytes from its stored {@code frame}, as every reader checks them: the frame's
   * SHA-256 against the manifest, then zstd to exactly {@link #rawLength} bytes.
   *
   * @param source the overlay's file or URL, for messages
   * @param at the frame's offset in the overlay, for messages
   * @throws CorruptOverlayException naming the attachment, the source and the offset
   */
  public byte[] decode(byte[] frame, String source, long at) throws CorruptOverlayException {
    if (!Arrays.equals(Sha256.of(frame), sha256)) {
      throw new CorruptOverlayException(source, at, "attachment " + name + ": SHA-256 mismatch");
    }
    try {
      byte[] raw = Zstd.decompress(frame, rawLength);
      if (raw.length != rawLength) {
        throw new CorruptOverlayException(source, at, "attachment " + name + " decompresses to " + raw.length
            + " bytes, manifest says " + rawLength);
      }
      return raw;
    } catch (ZstdException e) {
      throw new CorruptOverlayException(source, at, "attachment " + name + " does not decompress: "
          + e.getMessage());
    }
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
