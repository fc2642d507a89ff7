package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The small JSON reader behind {@code earlystart status}, and the status rendering. */
class JsonTest {
  @Test
  @SuppressWarnings("unchecked")
  void readsObjectsArraysStringsNumbersAndLiterals() {
    Map<String, Object> m = (Map<String, Object>) Json.parse(
        "{\"a\": 1, \"b\": [true, false, null, -2.5e3], \"c\": \"x\\\"y\\n\\u00e9\", \"d\": {}}");
    assertEquals(1.0, m.get("a"));
    assertEquals(List.of(true, false), ((List<Object>) m.get("b")).subList(0, 2));
    assertNull(((List<Object>) m.get("b")).get(2));
    assertEquals(-2500.0, ((List<Object>) m.get("b")).get(3));
    assertEquals("x\"y\né", m.get("c"));
    assertEquals(Map.of(), m.get("d"));
  }

  @Test
  void namesTheOffsetOfWhatIsNotJson() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": tru}"));
    assertTrue(e.getMessage().contains("offset 6"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": 1} x"));
    assertThrows(IllegalArgumentException.class, () -> Json.parse("\"open"));
  }

  @Test
  void rendersAStatusForPeople() {
    String status = """
        {
          "state": "streaming",
          "overlay": "ab",
          "source": "es://h:1/x",
          "elapsedSeconds": 2.5,
          "segments": {"applied": 3, "total": 10, "inCacheAtMount": 1},
          "bytes": {"fetched": 2097152, "total": 10485760},
          "streamRateBytesPerSecond": 1048576.0,
          "demands": 4,
          "retries": 0,
          "reconnects": 1,
          "waits": {"disk": {"count": 2, "waitingNow": 0, "p50Micros": 1500, "p99Micros": 3000, "totalMillis": 4, "errors": 0}, "memory": {"count": 5, "waitingNow": 1, "p50Micros": 20000, "p99Micros": 90000, "totalMillis": 200, "errors": 0}},
          "guestWrittenChunks": {"disk": 7, "memory": 0},
          "lastError": "connection reset"
        }
        """;
    String text = StatusCommand.render(status);
    assertTrue(text.startsWith("streaming: overlay ab from es://h:1/x"), text);
    assertTrue(text.contains("segments  3 of 10 (1 were in the cache at mount)"), text);
    assertTrue(text.contains("memory:   5 reads waited (1 waiting now), p50 20.0 ms, p99 90.0 ms"), text);
    assertTrue(text.contains("last error: connection reset"), text);
  }
}
