/**
 * Small helpers that every module may use and that know nothing of overlays: closing several owners
 * ({@link io.earlystart.overlay.io.Closer}), SHA-256 and hex, unwrapping futures, progress reporting,
 * positional reads of an image file that skip its holes (where the data is: {@link
 * io.earlystart.overlay.io.DataRanges}, lseek through jnr-ffi), and the base of the corrupt-data
 * exceptions.
 */
package io.earlystart.overlay.io;
