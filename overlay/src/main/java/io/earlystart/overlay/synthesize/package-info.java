/**
 * {@code earlystart synthesize}: the classic, non-lazy synthesis of the customised images from the
 * bases and a whole overlay ({@link io.earlystart.overlay.synthesize.Synthesizer}), and {@link
 * io.earlystart.overlay.synthesize.SegmentWriter}, the one walk that puts a segment's payloads into
 * the chunks that use them, shared with the early-start mount.
 */
package io.earlystart.overlay.synthesize;
