package io.earlystart.overlay.create;

import io.earlystart.overlay.format.Image;

/**
 * When the VM is expected to touch each chunk first: the order of an overlay's stream. Chunks
 * touched earlier stream earlier; untouched chunks follow, in offset order (disk, then memory).
 * Implementations must be thread-safe for reads; {@code ordering.TraceOrder} makes one from
 * recorded access traces.
 */
@FunctionalInterface
public interface AccessOrder {
  /** Offset order: no chunk is known to be touched (the order of {@code create} without traces). */
  AccessOrder OFFSET = (image, chunk) -> -1;

  /**
   * @return the time (any monotonic unit, comparable across both images) of the first touch of
   *     {@code chunk} of {@code image}, or a negative number if it was not seen
   */
  long firstTouch(Image image, int chunk);
}
