package io.earlystart.fusefs.image;

import io.earlystart.fetcher.SegmentScheduler;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayHead;
import io.earlystart.overlay.format.Segment;
import java.util.Locale;

/**
 * The mount's {@code status} file: one JSON object, made at each open. Keys (all numbers are totals
 * since the mount started unless they say otherwise):
 *
 * <pre>
 * state               "streaming" | "complete" | "failed"
 * overlay, source     the overlay id and where it comes from
 * elapsedSeconds      since the mount was opened
 * segments            {applied, total, inCacheAtMount}
 * bytes               {fetched (this mount), total (all segments)}
 * streamRateBytesPerSecond  bytes fetched / seconds the stream ran (until complete)
 * demands, retries, reconnects
 * waits.disk, waits.memory  {count, waitingNow, p50Micros, p99Micros, totalMillis, errors}
 * guestWrittenChunks  {disk, memory}
 * lastError           the last fetch error, or null
 * </pre>
 *
 * Stateless.
 */
final class Status {
  private Status() {}

  static String json(OverlayHead head, SegmentScheduler scheduler, String source, EarlyImage.Waits[] waits,
      ChunkState[] chunks, int inCacheAtMount, long openedNanos, long streamStartNanos, long streamEndNanos) {
    Manifest m = head.manifest();
    SegmentScheduler.Stats st = scheduler.stats();
    int applied = scheduler.presentCount();
    long totalBytes = 0;
    for (Segment s : m.segments()) {
      totalBytes += s.length();
    }
    var done = scheduler.completion();
    String state = done.isCompletedExceptionally() ? "failed" : done.isDone() ? "complete" : "streaming";
    long now = System.nanoTime();
    double streamSeconds = streamStartNanos == 0 ? 0
        : ((streamEndNanos != 0 ? streamEndNanos : now) - streamStartNanos) / 1e9;
    Throwable last = scheduler.lastError();
    if (done.isCompletedExceptionally()) {
      last = done.handle((v, t) -> t).join();
      if (last instanceof java.util.concurrent.CompletionException && last.getCause() != null) {
        last = last.getCause();
      }
    }
    StringBuilder b = new StringBuilder(1024);
    b.append("{\n");
    field(b, "state", quote(state));
    field(b, "overlay", quote(head.id()));
    field(b, "source", quote(source));
    field(b, "elapsedSeconds", num((now - openedNanos) / 1e9));
    field(b, "segments", "{\"applied\": " + applied + ", \"total\": " + m.segments().size()
        + ", \"inCacheAtMount\": " + inCacheAtMount + "}");
    field(b, "bytes", "{\"fetched\": " + st.bytesFetched() + ", \"total\": " + totalBytes + "}");
    field(b, "streamRateBytesPerSecond", num(streamSeconds > 0 ? st.bytesFetched() / streamSeconds : 0));
    field(b, "demands", Long.toString(st.demands()));
    field(b, "retries", Long.toString(st.retries()));
    field(b, "reconnects", Long.toString(st.reconnects()));
    StringBuilder w = new StringBuilder("{");
    for (Image image : Image.values()) {
      EarlyImage.Waits x = waits[image.ordinal()];
      long[] q = x.quantilesNanos(0.50, 0.99);
      if (image.ordinal() > 0) {
        w.append(", ");
      }
      w.append(quote(image == Image.DISK ? "disk" : "memory")).append(": {\"count\": ").append(x.count())
          .append(", \"waitingNow\": ").append(x.waitingNow())
          .append(", \"p50Micros\": ").append(q[0] / 1000)
          .append(", \"p99Micros\": ").append(q[1] / 1000)
          .append(", \"totalMillis\": ").append(x.totalNanos() / 1_000_000)
          .append(", \"errors\": ").append(x.errors()).append('}');
    }
    field(b, "waits", w.append('}').toString());
    field(b, "guestWrittenChunks", "{\"disk\": " + chunks[0].guestChunks() + ", \"memory\": "
        + chunks[1].guestChunks() + "}");
    b.append("  \"lastError\": ").append(last == null ? "null" : quote(String.valueOf(last.getMessage())))
        .append("\n}\n");
    return b.toString();
  }

  private static void field(StringBuilder b, String key, String value) {
    b.append("  ").append(quote(key)).append(": ").append(value).append(",\n");
  }

  private static String num(double d) {
    return String.format(Locale.ROOT, "%.3f", d);
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }
}
