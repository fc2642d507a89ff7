package io.earlystart.overlay.format;

/** What a changed chunk of a customised image is made of; a chunk absent from the table is base. */
public enum ChunkKind {
  /** All zero bytes. No payload. */
  ZERO(0),
  /** Equal to the base disk chunk whose index is the entry's argument. No payload. */
  BASE_DISK(1),
  /** Equal to the base memory chunk whose index is the entry's argument. No payload. */
  BASE_MEM(2),
  /** New bytes: the payload whose id is the argument, shared by every chunk with equal bytes. */
  DATA(3),
  /** zstd of the chunk with the base chunk at the same offset as raw dictionary; its own payload. */
  DELTA(4);

  private static final ChunkKind[] BY_CODE = values();

  /** The byte written in the manifest. */
  public final int code;

  ChunkKind(int code) {
    this.code = code;
  }

  /** @return the kind, or null for an unknown code */
  public static ChunkKind ofCode(int code) {
    return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
  }

  public boolean hasPayload() {
    return this == DATA || this == DELTA;
  }

  /** For BASE_DISK and BASE_MEM, the image whose base holds the bytes. */
  public Image baseImage() {
    return switch (this) {
      case BASE_DISK -> Image.DISK;
      case BASE_MEM -> Image.MEMORY;
      default -> throw new IllegalStateException(this + " has no base image");
    };
  }
}
