package io.earlystart.fetcher;

import io.earlystart.overlay.format.Attachment;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.format.OverlayHeader;
import io.earlystart.overlay.format.OverlayReader;
import io.earlystart.overlay.format.Segment;
import java.io.IOException;
import java.time.Duration;
import java.util.BitSet;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An {@link OverlayReader} over any {@link SegmentSource}, for a full synthesis from the network: the
 * scheduler streams segments in order while the synthesizer decompresses and applies the ones that
 * arrived, so the network overlaps with the work. Verified frames wait in memory until read (the
 * synthesizer reads in stream order, right behind the stream). Thread-safe; closes the scheduler and
 * the source.
 */
public final class ScheduledOverlayReader implements OverlayReader {
  private final SegmentSource source;
  private final SegmentScheduler scheduler;
  private final Map<Integer, byte[]> arrived = new ConcurrentHashMap<>();
  private final Duration segmentDeadline;

  /**
   * Opens the source and starts streaming.
   *
   * @param segmentDeadline how long one segment may take to arrive before reading it fails
   */
  public ScheduledOverlayReader(SegmentSource source, SchedulerOptions options, Duration segmentDeadline)
      throws IOException {
    this.source = source;
    this.segmentDeadline = segmentDeadline;
    this.scheduler = new SegmentScheduler(source, (seg, frame) -> arrived.put(seg.index(), frame), options,
        new BitSet());
    try {
      scheduler.start();
    } catch (IOException | RuntimeException e) {
      scheduler.close();
      throw e;
    }
  }

  @Override
  public String describe() {
    return source.describe();
  }

  @Override
  public OverlayHeader header() {
    return scheduler.head().header();
  }

  @Override
  public Manifest manifest() {
    return scheduler.head().manifest();
  }

  public SegmentScheduler scheduler() {
    return scheduler;
  }

  @Override
  public byte[] readSegment(Segment s) throws IOException {
    try {
      scheduler.awaitStreamed(s.index(), segmentDeadline);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while waiting for " + s);
    }
    byte[] frame = arrived.remove(s.index());
    if (frame == null) {
      throw new IOException(s + " was already read");
    }
    return frame;
  }

  @Override
  public byte[] readAttachment(Attachment a) throws IOException {
    return scheduler.attachment(a);
  }

  @Override
  public void close() throws IOException {
    scheduler.close();
    source.close();
  }
}
