package io.earlystart.fetcher;

import io.earlystart.overlay.format.OverlayHead;
import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;

/**
 * A place one overlay can be fetched from: the project's protocol ({@code es://host:port/NAME}), any
 * HTTP server that honours Range requests ({@code http(s)://...}), or a local file. It hands out
 * {@link Session}s; a session is one connection's worth of fetching, and a new session after a failure
 * is how a client reconnects. Thread-safe.
 */
public interface SegmentSource extends Closeable {
  /** The source as the user named it, for messages (no credentials). */
  String describe();

  /**
   * Connects and fetches the overlay's head (header and manifest, both verified: header CRC, manifest
   * SHA-256 and validation), within {@code timeout}; then the session delivers segments to
   * {@code sink}.
   *
   * @throws IOException the source cannot be reached, or says no, or sends a bad head; a {@link
   *     io.earlystart.overlay.format.CorruptOverlayException} when the head is corrupt
   */
  Session open(Sink sink, Duration timeout) throws IOException;

  /**
   * One connection's fetching. {@link #stream} and {@link #demand} never block and may be called from
   * any thread; segments reach the sink from the session's own threads, in any order, possibly more
   * than once (a demanded segment may also come in the stream). Once the sink has been told {@link
   * Sink#failed}, the session is dead and further calls are ignored.
   */
  interface Session extends Closeable {
    OverlayHead head();

    /**
     * Appends segments to the background stream, to be sent in the order given after those already
     * asked for. A segment already demanded or sent need not be sent again.
     */
    void stream(int[] segments);

    /** Fetches {@code segment} ahead of the background stream, as soon as possible. */
    void demand(int segment);

    /**
     * The bytes of an attachment (vmstate, vm.json), verified and decompressed; attachments travel
     * before the segments, so a session fetches them with the head or right after. Blocks at most the
     * session's open timeout.
     */
    default byte[] attachment(io.earlystart.overlay.format.Attachment a) throws IOException {
      throw new IOException("this source cannot fetch attachments yet");
    }

    /** Closes the connection; no sink calls follow (not even {@code failed}). */
    @Override
    void close();
  }

  /**
   * Receives what a {@link Session} fetches. Called from the session's threads (netty event loops
   * included): implementations must not block.
   */
  interface Sink {
    /**
     * The whole frame of segment {@code index} as received, not yet verified against the manifest. The
     * array belongs to the sink from now on.
     */
    void segment(int index, byte[] frame);

    /** The session died (connection lost, protocol error, source gone); no more calls follow. */
    void failed(Throwable cause);
  }
}
