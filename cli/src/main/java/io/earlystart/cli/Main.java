package io.earlystart.cli;

import io.earlystart.cli.example.ExampleImagesCommand;
import io.earlystart.overlay.base.BaseMismatchException;
import io.earlystart.overlay.format.CorruptOverlayException;
import io.earlystart.overlay.format.UnsupportedVersionException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * {@code earlystart}: the command line. Errors are one line on stderr and an exit code that says
 * what kind of error it was; the stack trace only with {@code --verbose}.
 */
@Command(name = "earlystart", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "Start a customised VM before its overlay has finished downloading.",
    subcommands = {CreateCommand.class, ReorderCommand.class, SynthesizeCommand.class, ServeCommand.class, LaunchCommand.class, ResumeCommand.class,
        CaptureCommand.class,
        MountCommand.class,
        StatusCommand.class, InspectCommand.class,
        ExampleImagesCommand.class, CommandLine.HelpCommand.class})
public final class Main {
  /** Exit codes besides 0 (success) and 2 (usage, picocli's). */
  public static final int EXIT_ERROR = 1;
  public static final int EXIT_CORRUPT = 3;
  public static final int EXIT_WRONG_BASE = 4;

  @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
      description = "Print stack traces of errors.")
  boolean verbose;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit code, without exiting (for tests). */
  public static int run(String... args) {
    CommandLine cmd = new CommandLine(new Main());
    cmd.setExecutionExceptionHandler((ex, line, parsed) -> {
      boolean verbose = parsed.matchedOption("--verbose") != null
          || parsed.subcommands().stream().anyMatch(p -> p.matchedOption("--verbose") != null);
      line.getErr().println("earlystart: " + describe(ex));
      if (verbose) {
        ex.printStackTrace(line.getErr());
      }
      line.getErr().flush();
      return exitCode(ex);
    });
    return cmd.execute(args);
  }

  /** One line for a person: what failed and, for files, which one. */
  static String describe(Throwable ex) {
    if (ex instanceof NoSuchFileException e) {
      return (e.getReason() != null ? e.getReason() : "file not found") + ": " + e.getFile();
    }
    if (ex instanceof FileSystemException e && e.getReason() != null) {
      return e.getFile() + ": " + e.getReason();
    }
    if (ex instanceof InterruptedException) {
      return "interrupted";
    }
    String msg = ex.getMessage();
    if (msg == null || msg.isBlank()) {
      msg = ex.getClass().getSimpleName();
    }
    return msg.replace('\n', ' ');
  }

  static int exitCode(Throwable ex) {
    if (ex instanceof CorruptOverlayException || ex instanceof UnsupportedVersionException) {
      return EXIT_CORRUPT;
    }
    if (ex instanceof BaseMismatchException) {
      return EXIT_WRONG_BASE;
    }
    return EXIT_ERROR;
  }

  /** The version from the jar manifest, or "development" when run from classes. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"earlystart " + (v != null ? v : "0.1.0 (development build)")};
    }
  }
}
