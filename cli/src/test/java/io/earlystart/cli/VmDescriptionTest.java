package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What capture reads out of QEMU's answers, and the JSON it writes. */
class VmDescriptionTest {
  @Test
  void theGuestPortComesFromQemusHostForward() {
    // QEMU 7.2's "info usernet" for -netdev user,id=n0,hostfwd=tcp:127.0.0.1:18999-:80, as HMP prints it
    String one = "Hub -1 (n0):\r\n  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n"
        + "  TCP[HOST_FORWARD]   9       127.0.0.1 18999       10.0.2.15    80     0     0\r\n";
    assertEquals(List.of(80), VmDescription.guestPorts(one));
    String two = one + "  TCP[HOST_FORWARD]  10       127.0.0.1  2222       10.0.2.15    22     0     0\r\n"
        + "  UDP[236 sec]       11         0.0.0.0 41913       10.0.2.3     53     0     0\r\n";
    assertEquals(List.of(80, 22), VmDescription.guestPorts(two));
    assertEquals(List.of(), VmDescription.guestPorts(""));
  }

  @Test
  void theCacheModeComesFromQueryBlocksFlags() {
    assertEquals("writeback", VmDescription.cacheMode(true, false, false));
    assertEquals("none", VmDescription.cacheMode(true, true, false));
    assertEquals("directsync", VmDescription.cacheMode(false, true, false));
    assertEquals("writethrough", VmDescription.cacheMode(false, false, false));
    assertEquals("unsafe", VmDescription.cacheMode(true, false, true));
  }

  @Test
  void whatIsWrittenReadsBackTheSame() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("format", 1);
    m.put("ramBytes", 268435456L);
    m.put("append", "console=ttyS0 \"quoted\" \\ tab\t");
    m.put("balloon", Map.of("freePageReporting", true));
    m.put("devices", List.of("a", "b"));
    m.put("empty", Map.of());
    m.put("none", null);
    String json = Json.write(m);
    Map<?, ?> back = (Map<?, ?>) Json.parse(json);
    assertEquals(1.0, back.get("format"));
    assertEquals(268435456.0, back.get("ramBytes"));
    assertEquals(m.get("append"), back.get("append"));
    assertEquals(Map.of("freePageReporting", true), back.get("balloon"));
    assertEquals(List.of("a", "b"), back.get("devices"));
    assertEquals(Map.of(), back.get("empty"));
    assertEquals(null, back.get("none"));
    org.junit.jupiter.api.Assertions.assertTrue(json.startsWith("{\n  \"format\": 1,\n  \"ramBytes\": 268435456,\n"), json);
  }
}
