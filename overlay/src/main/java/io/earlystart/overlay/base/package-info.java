/**
 * The base images an overlay is made against: {@link io.earlystart.overlay.base.BaseIndex} (the
 * {@link io.earlystart.overlay.base.BlockHashDigest block-hash digest} and a hash of every 4 KiB chunk,
 * cached beside the base) and {@link io.earlystart.overlay.base.BaseCheck}, which refuses a base other
 * than the one an overlay needs.
 */
package io.earlystart.overlay.base;
