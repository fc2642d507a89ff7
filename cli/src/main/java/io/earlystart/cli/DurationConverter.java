package io.earlystart.cli;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Parses durations with a unit: {@code ns}, {@code us} (or {@code µs}), {@code ms}, {@code s},
 * {@code min}: {@code 10ms}, {@code 1s}, {@code 250us}, {@code 1.5s}. {@code 0} alone means none.
 */
public final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
  private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ns|us|µs|ms|s|min)?");

  @Override
  public Duration convert(String value) {
    return ParseErrors.forPicocli(DurationConverter::parse, value);
  }

  /** The duration; IllegalArgumentException (naming the value) if invalid. */
  public static Duration parse(String value) {
    Matcher m = DURATION.matcher(value == null ? "" : value.strip());
    if (!m.matches() || (m.group(2) == null && new BigDecimal(m.group(1)).signum() != 0)) {
      throw new IllegalArgumentException("invalid duration '" + value + "': expected a number with ns, us, ms, s "
          + "or min, e.g. 10ms");
    }
    long nanosPerUnit = m.group(2) == null ? 1 : switch (m.group(2)) {
      case "ns" -> 1L;
      case "us", "µs" -> 1_000L;
      case "ms" -> 1_000_000L;
      case "s" -> 1_000_000_000L;
      default -> 60_000_000_000L;
    };
    BigDecimal nanos = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(nanosPerUnit));
    if (nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException("invalid duration '" + value + "': too long");
    }
    return Duration.ofNanos(nanos.setScale(0, java.math.RoundingMode.HALF_UP).longValue());
  }
}
