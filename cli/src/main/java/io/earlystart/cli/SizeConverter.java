package io.earlystart.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Parses byte sizes for options: plain bytes ({@code 4096}) or a binary suffix
 * {@code K}/{@code M}/{@code G}/{@code T}, optionally spelled {@code KiB}/{@code MiB}/{@code GiB}/{@code TiB}
 * (case-insensitive, all powers of 1024): {@code 64M}, {@code 1MiB}, {@code 512k}.
 */
public final class SizeConverter implements CommandLine.ITypeConverter<Long> {

  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(?:([kmgt])(?:ib)?|b)?", Pattern.CASE_INSENSITIVE);

  @Override
  public Long convert(String value) {
    return ParseErrors.forPicocli(SizeConverter::parse, value);
  }

  /** The size in bytes; IllegalArgumentException (with a message naming the value) if invalid. */
  public static long parse(String value) {
    Matcher m = SIZE.matcher(value == null ? "" : value.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException("invalid size '" + value
          + "': expected bytes or a number with K, M, G, T (or KiB, MiB, GiB, TiB), e.g. 64M or 1MiB");
    }
    int shift = m.group(2) == null ? 0 : switch (m.group(2).toLowerCase(Locale.ROOT)) {
      case "k" -> 10;
      case "m" -> 20;
      case "g" -> 30;
      default -> 40;
    };
    try {
      long n = Long.parseLong(m.group(1));
      if (n > (Long.MAX_VALUE >> shift)) {
        throw new NumberFormatException();
      }
      return n << shift;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("invalid size '" + value + "': too large");
    }
  }
}
