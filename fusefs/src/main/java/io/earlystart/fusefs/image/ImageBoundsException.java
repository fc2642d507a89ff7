package io.earlystart.fusefs.image;

import java.io.IOException;

/** A write outside an image: the guest gets {@code ENOSPC}, as at the end of a block device. */
public final class ImageBoundsException extends IOException {
  private static final long serialVersionUID = 1L;

  public ImageBoundsException(String message) {
    super(message);
  }
}
