package io.earlystart.fetcher;

import static io.earlystart.fetcher.SegmentStates.APPLIED;
import static io.earlystart.fetcher.SegmentStates.DEMANDED;
import static io.earlystart.fetcher.SegmentStates.MISSING;
import static io.earlystart.fetcher.SegmentStates.RECEIVED;
import static io.earlystart.fetcher.SegmentStates.RECEIVED_STREAMED;
import static io.earlystart.fetcher.SegmentStates.STREAMED;
import static io.earlystart.fetcher.SegmentStates.STREAMED_DEMANDED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.format.Segment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class SegmentStatesTest {
  /** {@code n} segments of 100 bytes each. */
  static SegmentStates states(int n, BitSet present) {
    List<Segment> segments = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      segments.add(new Segment(i, 100L * i, 100, 400, i, 1, new byte[32]));
    }
    return new SegmentStates(segments, present);
  }

  @Test
  void streamFillsTheWindowInOrderSkippingWhatIsAskedOrPresent() {
    BitSet present = new BitSet();
    present.set(1);
    present.set(50); // past the last segment: ignored
    SegmentStates s = states(8, present);
    assertEquals(1, s.appliedCount());
    assertTrue(s.markDemanded(2));
    assertArrayEquals(new int[] {0, 3, 4}, s.streamMore(300));
    assertEquals(300, s.inFlight());
    assertArrayEquals(new int[0], s.streamMore(300));
    assertEquals(STREAMED, s.state(0));
    assertEquals(DEMANDED, s.state(2));
  }

  @Test
  void windowBytesLastUntilTheApplierTakesTheSegment() {
    SegmentStates s = states(4, new BitSet());
    s.streamMore(200);
    assertTrue(s.markDemanded(1)); // a streamed segment may still be demanded, once
    assertFalse(s.markDemanded(1));
    assertEquals(STREAMED_DEMANDED, s.state(1));
    s.arrived(1);
    assertEquals(RECEIVED_STREAMED, s.state(1));
    assertEquals(200, s.inFlight());
    assertFalse(s.markDemanded(1), "arrived: not asked for again");
    assertTrue(s.take(1));
    assertEquals(RECEIVED, s.state(1));
    assertEquals(100, s.inFlight());
    s.applied(1);
    assertFalse(s.take(1), "a second copy of an applied segment is dropped");
    assertEquals(1, s.appliedCount());
  }

  @Test
  void rejectedIsMissingAgainAndCounted() {
    SegmentStates s = states(2, new BitSet());
    assertTrue(s.markDemanded(0));
    s.arrived(0);
    assertTrue(s.take(0));
    assertEquals(1, s.rejected(0));
    assertEquals(MISSING, s.state(0));
    assertTrue(s.markDemanded(0));
    s.arrived(0);
    s.take(0);
    assertEquals(2, s.rejected(0));
  }

  @Test
  void lostForgetsWhatWasAskedButNotWhatArrived() {
    SegmentStates s = states(5, new BitSet());
    s.streamMore(300); // 0, 1, 2
    s.markDemanded(3);
    s.arrived(1);
    s.markDemanded(0);
    s.lost();
    assertEquals(0, s.inFlight());
    assertEquals(MISSING, s.state(0));
    assertEquals(RECEIVED, s.state(1));
    assertEquals(MISSING, s.state(2));
    assertEquals(MISSING, s.state(3));
    assertTrue(s.take(1));
    assertEquals(0, s.inFlight(), "no window bytes given back twice");
    assertArrayEquals(new int[] {0, 2, 3}, s.streamMore(300), "the stream starts over");
  }

  @Test
  void completeWhenEveryoneIsApplied() {
    SegmentStates s = states(2, new BitSet());
    s.markDemanded(0);
    s.arrived(0);
    s.take(0);
    s.applied(0);
    assertFalse(s.complete());
    BitSet rest = new BitSet();
    rest.set(0, 2);
    s.assumeApplied(rest);
    assertTrue(s.complete());
    assertEquals(2, s.appliedCount());
    assertEquals(APPLIED, s.state(1));
  }
}
