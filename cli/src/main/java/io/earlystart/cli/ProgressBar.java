package io.earlystart.cli;

import io.earlystart.overlay.io.Progress;
import java.io.PrintStream;

/**
 * A one-line progress bar on stderr, redrawn in place, shown only when stderr is a terminal (no
 * control characters end up in logs or pipes). Not thread-safe: {@link Progress} calls never overlap.
 */
final class ProgressBar implements Progress {
  private static final int WIDTH = 30;
  private final PrintStream out;
  private final boolean enabled;
  private String lastPhase;
  private int lastLength;

  ProgressBar(PrintStream out, boolean enabled) {
    this.out = out;
    this.enabled = enabled;
  }

  /** A bar on stderr if this process has a terminal and the user did not ask for quiet output. */
  static ProgressBar forTerminal(boolean quiet) {
    return new ProgressBar(System.err, !quiet && System.console() != null);
  }

  @Override
  public void update(String phase, long done, long total) {
    if (!enabled) {
      return;
    }
    if (lastPhase != null && !lastPhase.equals(phase)) {
      out.println();
      lastLength = 0;
    }
    lastPhase = phase;
    double f = total <= 0 ? 1 : Math.min(1, (double) done / total);
    int full = (int) Math.round(f * WIDTH);
    String line = String.format("%-10s [%s%s] %3d%%", phase, "#".repeat(full), " ".repeat(WIDTH - full),
        Math.round(f * 100));
    out.print("\r" + line + " ".repeat(Math.max(0, lastLength - line.length())));
    lastLength = line.length();
    out.flush();
  }

  /** Ends the bar's line, if one was drawn. */
  void finish() {
    if (enabled && lastPhase != null) {
      out.println();
      lastPhase = null;
    }
  }
}
