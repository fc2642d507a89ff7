/**
 * {@code earlystart create} and {@code reorder}: compare the customised images with their bases
 * ({@code ChangeScanner}), give every distinct new chunk one payload ({@code PayloadPlan}), order the
 * payloads by an {@link io.earlystart.overlay.create.AccessOrder}, encode segments in parallel
 * ({@code SegmentEncoder}) and write the file ({@link io.earlystart.overlay.create.OverlayCreator}).
 */
package io.earlystart.overlay.create;
