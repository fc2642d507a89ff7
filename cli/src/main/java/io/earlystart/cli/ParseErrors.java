package io.earlystart.cli;

import java.util.function.Function;
import picocli.CommandLine;

/**
 * How the option converters ({@link SizeConverter}, {@link RateConverter}, {@link DurationConverter})
 * report a bad value: their static {@code parse} throws an {@link IllegalArgumentException} naming the
 * value (usable outside picocli too), which picocli wants as a {@link
 * CommandLine.TypeConversionException}. Stateless.
 */
final class ParseErrors {
  private ParseErrors() {}

  /** {@code parse.apply(value)}, its {@link IllegalArgumentException} as picocli's conversion error. */
  static <T> T forPicocli(Function<String, T> parse, String value) {
    try {
      return parse.apply(value);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.TypeConversionException(e.getMessage());
    }
  }
}
