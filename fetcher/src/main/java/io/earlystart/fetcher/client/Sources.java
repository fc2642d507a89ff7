package io.earlystart.fetcher.client;

import io.earlystart.fetcher.SegmentSource;
import io.earlystart.fetcher.client.FileSource;
import io.earlystart.fetcher.client.HttpRangeSource;
import io.earlystart.fetcher.client.ProtocolSource;
import java.net.URI;
import java.nio.file.Path;
import java.util.Locale;

/** Turns what the user wrote after {@code --source} into a {@link SegmentSource}. */
public final class Sources {
  private Sources() {}

  /**
   * {@code es://host[:port]/NAME}: the project's protocol (port 8021 if absent); {@code http(s)://...}:
   * an overlay file on any server that honours Range requests; {@code file:...} or a plain path: a local
   * overlay file.
   *
   * @throws IllegalArgumentException an unsupported scheme or a malformed spec, with a message naming it
   */
  public static SegmentSource open(String spec) {
    int colon = spec.indexOf("://");
    String scheme = colon > 0 ? spec.substring(0, colon).toLowerCase(Locale.ROOT) : "";
    switch (scheme) {
      case ProtocolSource.SCHEME:
        return ProtocolSource.parse(spec);
      case "http":
      case "https":
        try {
          return new HttpRangeSource(new URI(spec));
        } catch (java.net.URISyntaxException e) {
          throw new IllegalArgumentException("malformed URL " + spec + ": " + e.getMessage(), e);
        }
      case "file":
      case "":
        return fileSource(spec);
      default:
        throw new IllegalArgumentException("unsupported source " + spec
            + ": expected es://host:port/NAME, http(s)://URL, or the path of an overlay file");
    }
  }

  private static FileSource fileSource(String spec) {
    try {
      if (spec.regionMatches(true, 0, "file:", 0, 5)) {
        return new FileSource(Path.of(URI.create(spec)));
      }
      return new FileSource(Path.of(spec));
    } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
      throw new IllegalArgumentException("malformed file source " + spec + ": " + e.getMessage(), e);
    }
  }
}
