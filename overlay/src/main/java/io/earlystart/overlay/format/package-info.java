/**
 * The overlay file format (overlay/FORMAT.md): header, manifest (chunk tables, segments,
 * attachments) and segment bodies, their codecs and checks, and {@link
 * io.earlystart.overlay.format.OverlayFile} to read a local overlay. Everything here is immutable or
 * says otherwise; nothing here decides how or when bytes are fetched.
 */
package io.earlystart.overlay.format;
