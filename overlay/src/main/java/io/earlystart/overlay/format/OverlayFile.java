package io.earlystart.overlay.format;

import io.earlystart.overlay.io.Hex;
import io.earlystart.overlay.io.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * A local overlay file opened for reading: header and manifest are read and verified on open, and the
 * file is checked to be long enough for every segment. Segment and attachment reads verify SHA-256
 * before returning bytes. Thread-safe (positional reads only); the caller closes it.
 */
public final class OverlayFile implements OverlayReader {
  private final Path path;
  private final FileChannel channel;
  private final OverlayHeader header;
  private final Manifest manifest;

  private OverlayFile(Path path, FileChannel channel, OverlayHeader header, Manifest manifest) {
    this.path = path;
    this.channel = channel;
    this.header = header;
    this.manifest = manifest;
  }

  public static OverlayFile open(Path path) throws IOException {
    FileChannel ch;
    try {
      ch = FileChannel.open(path, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(path.toString(), null, "overlay not found");
    }
    try {
      String src = path.toString();
      byte[] head = new byte[OverlayHeader.SIZE];
      int got = readAt(ch, 0, head, 0, head.length);
      OverlayHeader header = OverlayHeader.decode(head, got, src);
      byte[] stored = new byte[header.manifestLength()];
      got = readAt(ch, OverlayHeader.SIZE, stored, 0, stored.length);
      Manifest manifest = OverlayHead.of(header, got < stored.length ? Arrays.copyOf(stored, got) : stored, src)
          .manifest();
      long expected = header.dataStart() + manifest.dataLength();
      if (ch.size() < expected) {
        throw new CorruptOverlayException(src, ch.size(),
            "truncated: file has " + ch.size() + " bytes, its segments end at " + expected);
      }
      if (ch.size() > expected) {
        throw new CorruptOverlayException(src, expected,
            (ch.size() - expected) + " unexpected bytes after the last segment");
      }
      return new OverlayFile(path, ch, header, manifest);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  public Path path() {
    return path;
  }

  @Override
  public String describe() {
    return path.toString();
  }

  @Override
  public OverlayHeader header() {
    return header;
  }

  @Override
  public Manifest manifest() {
    return manifest;
  }

  /** The overlay id: SHA-256 of the stored manifest, in hex. */
  public String id() {
    return Hex.of(header.manifestSha256());
  }

  /** The compressed bytes of {@code s}, verified against the manifest. */
  @Override
  public byte[] readSegment(Segment s) throws IOException {
    return readVerified(s.offset(), s.length(), s.sha256(), s.toString());
  }

  /**
   * The stored bytes of {@code s} as they are in the file, not verified (fewer than {@code s.length()}
   * if the file is truncated): for a fetcher whose caller verifies and counts bad copies.
   */
  public byte[] readSegmentUnverified(Segment s) throws IOException {
    byte[] b = new byte[s.length()];
    int got = readAt(channel, header.dataStart() + s.offset(), b, 0, b.length);
    return got == b.length ? b : Arrays.copyOf(b, got);
  }

  /** The stored (compressed) bytes of {@code a} as they are in the file, verified against the manifest. */
  public byte[] readAttachmentFrame(Attachment a) throws IOException {
    return readVerified(a.offset(), a.length(), a.sha256(), "attachment " + a.name());
  }

  /** The decompressed bytes of {@code a}, verified against the manifest. */
  @Override
  public byte[] readAttachment(Attachment a) throws IOException {
    long at = header.dataStart() + a.offset();
    byte[] frame = new byte[a.length()];
    int got = readAt(channel, at, frame, 0, frame.length);
    if (got < frame.length) {
      throw new CorruptOverlayException(path.toString(), at + got, "attachment " + a.name() + " truncated");
    }
    return a.decode(frame, path.toString(), at);
  }

  private byte[] readVerified(long offset, int length, byte[] sha256, String what) throws IOException {
    long at = header.dataStart() + offset;
    byte[] b = new byte[length];
    int got = readAt(channel, at, b, 0, length);
    if (got < length) {
      throw new CorruptOverlayException(path.toString(), at + got, what + " truncated");
    }
    MessageDigest d = Sha256.newDigest();
    d.update(b);
    if (!Arrays.equals(d.digest(), sha256)) {
      throw new CorruptOverlayException(path.toString(), at, what + ": SHA-256 mismatch");
    }
    return b;
  }

  private static int readAt(FileChannel ch, long pos, byte[] dst, int off, int len) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(dst, off, len);
    while (b.hasRemaining()) {
      if (ch.read(b, pos + b.position() - off) < 0) {
        break;
      }
    }
    return b.position() - off;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
