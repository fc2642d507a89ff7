package io.earlystart.cli;

import com.github.luben.zstd.ZstdDecompressCtx;
import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.OverlayHeader;
import io.earlystart.overlay.format.OverlayReader;
import io.earlystart.overlay.format.Segment;
import io.earlystart.overlay.format.SegmentCodec;
import io.earlystart.overlay.io.Hex;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code earlystart inspect}: what an overlay holds; {@code --verify} checks every hash. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "Show what an overlay holds; --verify reads and checks every segment and attachment.")
final class InspectCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @picocli.CommandLine.Mixin
  OverlaySource overlay;

  @Option(names = "--verify", description = "Read every segment and attachment, check SHA-256 and structure.")
  boolean verify;

  @Option(names = "--segments", description = "List every segment.")
  boolean segments;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (verify) {
      try (OverlayReader f = overlay.open()) { // a network source streams every segment: all are read
        print(out, f.header(), f.manifest());
        verify(f, out);
      }
    } else {
      OverlayHead head = overlay.head(); // no segment is fetched
      print(out, head.header(), head.manifest());
    }
    out.flush();
    return 0;
  }

  private void print(PrintWriter out, OverlayHeader header, Manifest m) {
    out.printf("overlay      %s%n", overlay.source);
    out.printf("id           %s%n", Hex.of(header.manifestSha256()));
    out.printf("format       version %d, chunk size %d, manifest %s stored (%s raw)%n", header.version(),
        m.chunkSize(), Units.bytes(header.manifestLength()), Units.bytes(header.manifestRawLength()));
    for (Image image : Image.values()) {
      out.printf("%-12s %s, %s %s%n", image.baseName, Units.bytes(m.base(image).size()), header.baseDigest().label,
          Hex.of(m.base(image).digest()));
    }
    for (Image image : Image.values()) {
      ChunkTable t = m.table(image);
      long[] k = t.countByKind();
      out.printf("%-12s %s, %d of %d chunks differ: zero %d, base-disk %d, base-memory %d, data %d, delta %d%n",
          image.fileName, Units.bytes(m.imageSize(image)), t.size(), m.chunkCount(image),
          k[ChunkKind.ZERO.ordinal()], k[ChunkKind.BASE_DISK.ordinal()], k[ChunkKind.BASE_MEM.ordinal()],
          k[ChunkKind.DATA.ordinal()], k[ChunkKind.DELTA.ordinal()]);
    }
    long stored = 0;
    long raw = 0;
    for (Segment s : m.segments()) {
      stored += s.length();
      raw += s.rawLength();
    }
    out.printf("payloads     %d in %d segments, %s stored (%s raw)%n", m.payloadCount(), m.segments().size(),
        Units.bytes(stored), Units.bytes(raw));
    for (Attachment a : m.attachments()) {
      out.printf("attachment   %s, %s stored (%s raw)%n", a.name(), Units.bytes(a.length()),
          Units.bytes(a.rawLength()));
    }
    out.printf("file         %s%n", Units.bytes(header.dataStart() + m.dataLength()));
    if (segments) {
      for (Segment s : m.segments()) {
        out.printf("  segment %5d  offset %12d  %9d bytes  (%9d raw)  payloads %d+%d  sha256 %s%n", s.index(),
            s.fileOffset(header), s.length(), s.rawLength(), s.firstPayload(), s.payloadCount(),
            Hex.of(s.sha256()));
      }
    }
  }

  private static void verify(OverlayReader f, PrintWriter out) throws Exception {
    Manifest m = f.manifest();
    for (Attachment a : m.attachments()) {
      f.readAttachment(a);
    }
    try (ZstdDecompressCtx ctx = new ZstdDecompressCtx()) {
      for (Segment s : m.segments()) {
        SegmentCodec.decode(ctx, f.readSegment(s), s, f.describe());
      }
    }
    out.printf("verified     %d segments and %d attachments: every SHA-256 matches and every frame decodes%n",
        m.segments().size(), m.attachments().size());
  }
}
