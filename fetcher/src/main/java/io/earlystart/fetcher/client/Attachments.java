package io.earlystart.fetcher.client;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdException;
import io.earlystart.overlay.Attachment;
import io.earlystart.overlay.CorruptOverlayException;
import io.earlystart.overlay.Sha256;
import java.util.Arrays;

/**
 * The check of an attachment's stored frame against its manifest entry, for the sources that receive
 * the frame over the network: SHA-256 of the stored bytes, then zstd decompression to exactly the raw
 * length. Pure static functions, thread-safe; they own nothing. (Meant to live next to {@link
 * Attachment} in overlay one day, where {@code OverlayFile} does the same.)
 */
final class Attachments {
  private Attachments() {}

  /**
   * The raw bytes of {@code a} from its stored {@code frame}.
   *
   * @param source the source, for the exception
   * @param at the frame's offset in the overlay file, for the exception
   * @throws CorruptOverlayException the SHA-256 does not match, or the frame does not decompress to
   *     the manifest's raw length
   */
  static byte[] verify(Attachment a, byte[] frame, String source, long at) throws CorruptOverlayException {
    if (!Arrays.equals(Sha256.of(frame), a.sha256())) {
      throw new CorruptOverlayException(source, at, "attachment " + a.name() + ": SHA-256 mismatch");
    }
    return decompress(a, frame, source, at);
  }

  /** As {@link #verify}, for a frame whose SHA-256 has been checked already. */
  static byte[] decompress(Attachment a, byte[] frame, String source, long at) throws CorruptOverlayException {
    try {
      byte[] raw = Zstd.decompress(frame, a.rawLength());
      if (raw.length != a.rawLength()) {
        throw new CorruptOverlayException(source, at, "attachment " + a.name() + " decompresses to "
            + raw.length + " bytes, manifest says " + a.rawLength());
      }
      return raw;
    } catch (ZstdException e) {
      throw new CorruptOverlayException(source, at, "attachment " + a.name() + " does not decompress: "
          + e.getMessage());
    }
  }
}
