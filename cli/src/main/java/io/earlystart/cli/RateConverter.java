package io.earlystart.cli;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Parses link rates into bytes per second, with decimal SI prefixes {@code k}, {@code M}, {@code G},
 * {@code T} (powers of 1000, any case) and a unit that says bits or bytes:
 * {@code bit} or {@code b} = bits per second ({@code 38mbit}, {@code 1gbit}, {@code 500kbit}, {@code 54Mb}),
 * {@code B} = bytes per second ({@code 10MB}). A bare number is bits per second, as in {@code tc};
 * {@code 0} means unlimited. Fractions are allowed ({@code 1.5mbit}).
 */
public final class RateConverter implements CommandLine.ITypeConverter<Long> {
  private static final Pattern RATE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kKmMgGtT]?)(bit|b|B|)(?:/s)?");

  @Override
  public Long convert(String value) {
    return ParseErrors.forPicocli(RateConverter::parse, value);
  }

  /** Bytes per second; IllegalArgumentException (naming the value) if invalid. */
  public static long parse(String value) {
    Matcher m = RATE.matcher(value == null ? "" : value.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException("invalid rate '" + value
          + "': expected a number with k, M, G (powers of 1000) and bit or B, e.g. 38mbit or 10MB");
    }
    long prefix = switch (m.group(2).toLowerCase(Locale.ROOT)) {
      case "" -> 1L;
      case "k" -> 1_000L;
      case "m" -> 1_000_000L;
      case "g" -> 1_000_000_000L;
      default -> 1_000_000_000_000L;
    };
    boolean bytes = m.group(3).equals("B");
    BigDecimal perSecond = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(prefix));
    if (!bytes) {
      perSecond = perSecond.divide(BigDecimal.valueOf(8));
    }
    if (perSecond.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException("invalid rate '" + value + "': too large");
    }
    long r = perSecond.setScale(0, java.math.RoundingMode.HALF_UP).longValue();
    if (r == 0 && perSecond.signum() > 0) {
      r = 1; // a tiny rate is still a limit, not "unlimited"
    }
    return r;
  }
}
