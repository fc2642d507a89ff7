package io.earlystart.overlay.format;

/** The two images an overlay describes, in manifest order. */
public enum Image {
  DISK("disk.img", "base disk"),
  MEMORY("memory.img", "base memory");

  /** File name of the image in a synthesized directory and in the mount. */
  public final String fileName;
  /** How the base image is called in messages. */
  public final String baseName;

  Image(String fileName, String baseName) {
    this.fileName = fileName;
    this.baseName = baseName;
  }
}
