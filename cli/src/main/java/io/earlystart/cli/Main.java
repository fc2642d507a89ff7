package io.earlystart.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code earlystart}: the command line. Errors are one line on stderr and an exit code that says
 * what kind of error it was ({@link Errors}); the stack trace only with {@code --verbose}.
 */
@Command(name = "earlystart", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "Start a customised VM before its overlay has finished downloading.",
    subcommands = {CreateCommand.class, ReorderCommand.class, SynthesizeCommand.class, ServeCommand.class, LaunchCommand.class, ResumeCommand.class,
        CaptureCommand.class,
        MountCommand.class,
        StatusCommand.class, InspectCommand.class,
        ExampleImagesCommand.class, CommandLine.HelpCommand.class})
public final class Main {
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
      line.getErr().println("earlystart: " + Errors.describe(ex));
      if (verbose) {
        ex.printStackTrace(line.getErr());
      }
      line.getErr().flush();
      return Errors.exitCode(ex);
    });
    return cmd.execute(args);
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
