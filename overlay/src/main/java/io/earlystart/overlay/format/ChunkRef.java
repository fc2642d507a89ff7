package io.earlystart.overlay.format;

/**
 * One 4 KiB chunk of either image, packed into a {@code long}: {@code (image ordinal << 32) | chunk index}.
 * Used wherever many chunk addresses are kept or passed on a hot path (payload refs, base lookups, the
 * read path), so that no object is made per chunk. A ref is never negative: {@link #NONE} (and any other
 * negative value a caller chooses as a marker) cannot be mistaken for one.
 *
 * <p>Static methods only; stateless.
 */
public final class ChunkRef {
  /** No chunk (a failed lookup). */
  public static final long NONE = -1;

  private ChunkRef() {}

  /** The ref of chunk {@code chunk} (below 2^32) of {@code image}. */
  public static long of(Image image, long chunk) {
    return of(image.ordinal(), chunk);
  }

  /** The ref of chunk {@code chunk} (below 2^32) of the image with ordinal {@code image}. */
  public static long of(int image, long chunk) {
    return ((long) image << 32) | (chunk & 0xFFFFFFFFL);
  }

  /** The image ordinal of {@code ref}. */
  public static int image(long ref) {
    return (int) (ref >>> 32);
  }

  /** The chunk index of {@code ref} within its image. */
  public static long chunk(long ref) {
    return ref & 0xFFFFFFFFL;
  }
}
