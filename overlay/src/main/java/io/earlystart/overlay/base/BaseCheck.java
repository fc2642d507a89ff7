package io.earlystart.overlay.base;

import io.earlystart.overlay.format.BaseRef;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.io.Futures;
import io.earlystart.overlay.io.Hex;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Checks that two base images are the ones an overlay was made against: sizes first (cheap, clear),
 * then SHA-256 of both (cached beside them, see {@link BaseIndex}). Stateless.
 */
public final class BaseCheck {
  private BaseCheck() {}

  /**
   * @param paths base disk and base memory, in {@link Image} order
   * @param sizes their sizes in bytes, in the same order
   * @param pool runs the disk's index while the calling thread does the memory's
   * @return the index of each base, in {@link Image} order
   * @throws BaseMismatchException naming the image, both sizes or both digests
   */
  public static BaseIndex[] check(Manifest m, Path[] paths, long[] sizes, ExecutorService pool)
      throws IOException, InterruptedException {
    for (Image image : Image.values()) {
      BaseRef want = m.base(image);
      long have = sizes[image.ordinal()];
      if (have != want.size()) {
        throw new BaseMismatchException("wrong " + image.baseName + " " + paths[image.ordinal()] + ": it is " + have
            + " bytes, the overlay was made against a " + image.baseName + " of " + want.size() + " bytes (sha256 "
            + Hex.of(want.sha256()) + ")");
      }
    }
    Future<BaseIndex> disk = pool.submit(() -> BaseIndex.loadOrBuild(paths[0], Image.DISK.baseName));
    BaseIndex[] have = {null, BaseIndex.loadOrBuild(paths[1], Image.MEMORY.baseName)};
    have[0] = Futures.get(disk);
    for (Image image : Image.values()) {
      byte[] want = m.base(image).sha256();
      byte[] got = have[image.ordinal()].ref().sha256();
      if (!Arrays.equals(want, got)) {
        throw new BaseMismatchException("wrong " + image.baseName + " " + paths[image.ordinal()] + ": its sha256 is "
            + Hex.of(got) + ", the overlay needs " + Hex.of(want));
      }
    }
    return have;
  }
}
