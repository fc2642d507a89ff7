package io.earlystart.fetcher;

import io.earlystart.overlay.format.Segment;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * Where each segment of one overlay is in its life, for a {@link SegmentScheduler}: one state per
 * segment, the stream bytes in flight (the window), the stream's cursor, and how often each segment
 * failed verification. Every change is one of the transitions below.
 *
 * <pre>
 *             streamMore               demand
 *   MISSING ------------> STREAMED ------------> STREAMED_DEMANDED
 *      |                     |                          |
 *      | demand              | arrived                  | arrived
 *      v                     v                          |
 *   DEMANDED          RECEIVED_STREAMED <---------------+
 *      |                     |
 *      | arrived             | take (the applier picks it up)
 *      v                     v
 *   RECEIVED <---------------+
 *      |  take: RECEIVED again (a second copy); rejected: MISSING, then demand again
 *      v  applied
 *   APPLIED   (also assumeApplied, from any state)
 *
 *   lost: STREAMED, STREAMED_DEMANDED, DEMANDED -> MISSING; RECEIVED_STREAMED -> RECEIVED; window empty
 * </pre>
 *
 * A segment that arrives while MISSING (from a session lost since) is RECEIVED too. STREAMED,
 * STREAMED_DEMANDED and RECEIVED_STREAMED count their bytes in the window until the applier takes
 * them; a RECEIVED segment is neither streamed nor demanded again while its copy waits for the
 * applier; a demand that finds a segment STREAMED is sent all the same (it jumps the stream).
 *
 * <p>Not thread-safe: owned by one scheduler and used only under its lock.
 */
final class SegmentStates {
  static final byte MISSING = 0;
  /** Asked for in the stream; in the window. */
  static final byte STREAMED = 1;
  /** Asked for with a DEMAND. */
  static final byte DEMANDED = 2;
  /** Asked for in the stream and with a DEMAND; in the window. */
  static final byte STREAMED_DEMANDED = 3;
  /** Arrived while in the window, queued for the applier; still in the window. */
  static final byte RECEIVED_STREAMED = 4;
  /** Arrived, queued for the applier or being verified; not asked for again. */
  static final byte RECEIVED = 5;
  /** Verified and applied, or assumed present. */
  static final byte APPLIED = 6;

  private final List<Segment> segments;
  private final byte[] state;
  private final int[] attempts;
  private int applied;
  private long inFlight;
  private int cursor;

  /** All MISSING except {@code present} (bits past the last segment are ignored). */
  SegmentStates(List<Segment> segments, BitSet present) {
    this.segments = segments;
    this.state = new byte[segments.size()];
    this.attempts = new int[segments.size()];
    assumeApplied(present);
  }

  int size() {
    return state.length;
  }

  byte state(int i) {
    return state[i];
  }

  boolean isApplied(int i) {
    return i >= 0 && i < state.length && state[i] == APPLIED;
  }

  int appliedCount() {
    return applied;
  }

  boolean complete() {
    return applied == state.length;
  }

  private static boolean inWindow(byte s) {
    return s == STREAMED || s == STREAMED_DEMANDED || s == RECEIVED_STREAMED;
  }

  /** Every state to {@code to}, giving back window bytes it held. */
  private void set(int i, byte to) {
    if (inWindow(state[i]) && !inWindow(to)) {
      inFlight -= segments.get(i).length();
    } else if (!inWindow(state[i]) && inWindow(to)) {
      inFlight += segments.get(i).length();
    }
    if (state[i] != APPLIED && to == APPLIED) {
      applied++;
    }
    state[i] = to;
  }

  /**
   * MISSING to STREAMED, in stream order from the cursor, while less than {@code windowBytes} is in
   * flight.
   *
   * @return the segments to append to the stream, in order; empty if none
   */
  int[] streamMore(long windowBytes) {
    int[] batch = new int[16];
    int size = 0;
    while (inFlight < windowBytes && cursor < state.length) {
      int i = cursor++;
      if (state[i] != MISSING) {
        continue;
      }
      set(i, STREAMED);
      if (size == batch.length) {
        batch = Arrays.copyOf(batch, size * 2);
      }
      batch[size++] = i;
    }
    return Arrays.copyOf(batch, size);
  }

  /**
   * MISSING to DEMANDED, STREAMED to STREAMED_DEMANDED.
   *
   * @return whether a DEMAND must be sent: false when one was sent already, or the segment arrived
   */
  boolean markDemanded(int i) {
    switch (state[i]) {
      case MISSING -> set(i, DEMANDED);
      case STREAMED -> set(i, STREAMED_DEMANDED);
      default -> {
        return false;
      }
    }
    return true;
  }

  /** A copy arrived from a session (any session) and is queued for the applier. */
  void arrived(int i) {
    switch (state[i]) {
      case STREAMED, STREAMED_DEMANDED -> set(i, RECEIVED_STREAMED);
      case MISSING, DEMANDED -> set(i, RECEIVED);
      default -> { } // a second copy, or one already applied
    }
  }

  /**
   * The applier picks up a copy: to RECEIVED, out of the window.
   *
   * @return false when the segment was applied already (a duplicate, to be dropped)
   */
  boolean take(int i) {
    if (state[i] == APPLIED) {
      return false;
    }
    set(i, RECEIVED);
    return true;
  }

  /** Verified and applied. */
  void applied(int i) {
    set(i, APPLIED);
  }

  /**
   * The copy failed verification: back to MISSING (unless applied meanwhile), for the caller to
   * demand it again.
   *
   * @return how many copies of it failed so far
   */
  int rejected(int i) {
    if (state[i] != APPLIED) {
      set(i, MISSING);
    }
    return ++attempts[i];
  }

  /** The session was lost: what was asked for of it is MISSING again; the stream starts over. */
  void lost() {
    for (int i = 0; i < state.length; i++) {
      switch (state[i]) {
        case STREAMED, STREAMED_DEMANDED, DEMANDED -> set(i, MISSING);
        case RECEIVED_STREAMED -> set(i, RECEIVED);
        default -> { }
      }
    }
    cursor = 0;
  }

  /** Segments applied already (a resumed cache): APPLIED whatever they were. */
  void assumeApplied(BitSet present) {
    for (int i = present.nextSetBit(0); i >= 0 && i < state.length; i = present.nextSetBit(i + 1)) {
      set(i, APPLIED);
    }
  }

  /** Bytes asked for in the stream and not yet taken by the applier. */
  long inFlight() {
    return inFlight;
  }
}
