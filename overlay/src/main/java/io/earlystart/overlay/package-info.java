/**
 * The overlay: its file format and the engine that makes and applies it, without I/O policy (no
 * network, no FUSE). Five parts, each a package, with dependencies pointing one way
 * ({@code io <- format <- base <- create, synthesize}):
 *
 * <ul>
 *   <li>{@link io.earlystart.overlay.format}: what an overlay file is (header, manifest, chunk tables,
 *       segments, attachments) and how its bytes are read and checked; every module uses it;
 *   <li>{@link io.earlystart.overlay.base}: the base images: the cached index of their chunk hashes and
 *       the check that a base is the one an overlay needs;
 *   <li>{@link io.earlystart.overlay.create}: {@code earlystart create} and {@code reorder};
 *   <li>{@link io.earlystart.overlay.synthesize}: {@code earlystart synthesize}, and the segment writer
 *       the early-start mount shares;
 *   <li>{@link io.earlystart.overlay.io}: small helpers every module may use (closing, digests, hex,
 *       progress, image files).
 * </ul>
 *
 * The format itself is specified in {@code overlay/FORMAT.md}.
 */
package io.earlystart.overlay;
