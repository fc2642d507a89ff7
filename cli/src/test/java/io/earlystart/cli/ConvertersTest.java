package io.earlystart.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@code --rate} and {@code --delay} values as users write them. */
class ConvertersTest {
  @Test
  void ratesInBitsOrBytesWithDecimalPrefixes() {
    assertEquals(4_750_000, RateConverter.parse("38mbit"));
    assertEquals(4_750_000, RateConverter.parse("38Mbit"));
    assertEquals(125_000_000, RateConverter.parse("1gbit"));
    assertEquals(62_500, RateConverter.parse("500kbit"));
    assertEquals(6_750_000, RateConverter.parse("54Mb"));
    assertEquals(10_000_000, RateConverter.parse("10MB"));
    assertEquals(10_000_000, RateConverter.parse("10MB/s"));
    assertEquals(187_500, RateConverter.parse("1.5mbit"));
    assertEquals(1_000, RateConverter.parse("8000"));
    assertEquals(0, RateConverter.parse("0"));
    assertEquals(1, RateConverter.parse("1bit"));
    for (String bad : new String[] {"", "fast", "38mbps", "-1mbit", "10 MiB", "1e6"}) {
      assertThrows(IllegalArgumentException.class, () -> RateConverter.parse(bad), bad);
    }
  }

  @Test
  void durationsNeedAUnit() {
    assertEquals(Duration.ofMillis(10), DurationConverter.parse("10ms"));
    assertEquals(Duration.ofSeconds(1), DurationConverter.parse("1s"));
    assertEquals(Duration.ofNanos(250_000), DurationConverter.parse("250us"));
    assertEquals(Duration.ofMillis(1500), DurationConverter.parse("1.5s"));
    assertEquals(Duration.ofMinutes(2), DurationConverter.parse("2min"));
    assertEquals(Duration.ZERO, DurationConverter.parse("0"));
    for (String bad : new String[] {"", "10", "soon", "10h", "-5ms"}) {
      assertThrows(IllegalArgumentException.class, () -> DurationConverter.parse(bad), bad);
    }
  }
}
