package io.earlystart.overlay.base;

import java.io.IOException;

/** A base image given by the user is not the one the overlay was made against. */
public class BaseMismatchException extends IOException {
  private static final long serialVersionUID = 1L;

  public BaseMismatchException(String message) {
    super(message);
  }
}
