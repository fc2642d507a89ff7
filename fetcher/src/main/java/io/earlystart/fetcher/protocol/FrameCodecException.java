package io.earlystart.fetcher.protocol;

import io.netty.handler.codec.DecoderException;

/** A malformed frame: unknown type, bad length, fields out of range. The connection closes. */
public class FrameCodecException extends DecoderException {
  private static final long serialVersionUID = 1L;

  public FrameCodecException(String message) {
    super(message);
  }
}
