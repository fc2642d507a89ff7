package io.earlystart.overlay.base;

import io.earlystart.overlay.format.BaseDigest;
import io.earlystart.overlay.format.BaseRef;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.io.Futures;
import io.earlystart.overlay.io.Hex;
import io.earlystart.overlay.io.ImageFile;
import io.earlystart.overlay.io.Sha256;
import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks that two base images are the ones an overlay was made against: sizes first (cheap, clear),
 * then the digest the overlay's format version names them by ({@link BaseDigest}): the block-hash
 * digest from the base index (cached beside them, see {@link BaseIndex}), or for a version-1 overlay
 * the SHA-256 of every byte, read in full each time it is asked for. Stateless.
 */
public final class BaseCheck {
  private static final Logger LOG = LoggerFactory.getLogger(BaseCheck.class);

  private BaseCheck() {}

  /**
   * @param digest what the overlay's {@code baseSha256} fields hold: {@code header.baseDigest()}
   * @param paths base disk and base memory, in {@link Image} order
   * @param sizes their sizes in bytes, in the same order
   * @param pool runs the disk's index (and SHA-256) while the calling thread does the memory's
   * @return the index of each base, in {@link Image} order
   * @throws BaseMismatchException naming the image, both sizes or both digests
   */
  public static BaseIndex[] check(BaseDigest digest, Manifest m, Path[] paths, long[] sizes, ExecutorService pool)
      throws IOException, InterruptedException {
    checkSizes(digest, m, paths, sizes);
    Future<BaseIndex> disk = pool.submit(() -> BaseIndex.loadOrBuild(paths[0], Image.DISK.baseName));
    BaseIndex[] have = {null, BaseIndex.loadOrBuild(paths[1], Image.MEMORY.baseName)};
    have[0] = Futures.get(disk);
    byte[][] got = {have[0].ref().digest(), have[1].ref().digest()};
    if (digest == BaseDigest.FLAT_SHA256) {
      got = flatSha256(paths, pool);
    }
    compare(digest, m, paths, got);
    return have;
  }

  /**
   * The same check for a reader that needs no chunk hashes (the mount): the digests come from
   * {@link BaseIndex#ref}, which reads a valid cache without keeping its hashes.
   */
  public static void checkIdentity(BaseDigest digest, Manifest m, Path[] paths, long[] sizes, ExecutorService pool)
      throws IOException, InterruptedException {
    checkSizes(digest, m, paths, sizes);
    byte[][] got;
    if (digest == BaseDigest.FLAT_SHA256) {
      got = flatSha256(paths, pool);
    } else {
      Future<BaseRef> disk = pool.submit(() -> BaseIndex.ref(paths[0], Image.DISK.baseName));
      byte[] memory = BaseIndex.ref(paths[1], Image.MEMORY.baseName).digest();
      got = new byte[][] {Futures.get(disk).digest(), memory};
    }
    compare(digest, m, paths, got);
  }

  private static void checkSizes(BaseDigest digest, Manifest m, Path[] paths, long[] sizes) throws IOException {
    for (Image image : Image.values()) {
      BaseRef want = m.base(image);
      long have = sizes[image.ordinal()];
      if (have != want.size()) {
        throw new BaseMismatchException("wrong " + image.baseName + " " + paths[image.ordinal()] + ": it is " + have
            + " bytes, the overlay was made against a " + image.baseName + " of " + want.size() + " bytes ("
            + digest.label + " " + Hex.of(want.digest()) + ")");
      }
    }
  }

  private static void compare(BaseDigest digest, Manifest m, Path[] paths, byte[][] got) throws IOException {
    for (Image image : Image.values()) {
      byte[] want = m.base(image).digest();
      if (!Arrays.equals(want, got[image.ordinal()])) {
        throw new BaseMismatchException("wrong " + image.baseName + " " + paths[image.ordinal()] + ": its "
            + digest.label + " is " + Hex.of(got[image.ordinal()]) + ", the overlay needs " + Hex.of(want));
      }
    }
  }

  /** The SHA-256 of every byte of both bases (holes hashed as zeros, not read), disk on {@code pool}. */
  private static byte[][] flatSha256(Path[] paths, ExecutorService pool) throws IOException, InterruptedException {
    LOG.info("a format version 1 overlay names its bases by the SHA-256 of every byte: reading {} and {} in full "
        + "to check them, each time (re-create the overlay with this earlystart to skip this)", paths[0], paths[1]);
    Future<byte[]> disk = pool.submit(() -> flatSha256(paths[0], Image.DISK.baseName));
    byte[] memory = flatSha256(paths[1], Image.MEMORY.baseName);
    return new byte[][] {Futures.get(disk), memory};
  }

  private static byte[] flatSha256(Path image, String role) throws IOException {
    MessageDigest sha = Sha256.newDigest();
    byte[] block = new byte[BlockHashDigest.BLOCK];
    byte[] zeros = new byte[BlockHashDigest.BLOCK];
    try (ImageFile in = ImageFile.openSparse(image, role)) {
      for (long pos = 0; pos < in.size(); pos += block.length) {
        int len = (int) Math.min(block.length, in.size() - pos);
        if (in.hasData(pos, len)) {
          in.read(pos, block, 0, len);
          sha.update(block, 0, len);
        } else {
          sha.update(zeros, 0, len);
        }
      }
    }
    return sha.digest();
  }
}
