package io.earlystart.bench;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs an external program (xdelta3, xz) to completion and fails loudly: a missing program, a
 * non-zero exit or a signal becomes an {@link IOException} naming the command line and the end of
 * its stderr. Stateless; thread-safe.
 */
final class ExternalTool {
  private static final int STDERR_TAIL = 2000;

  private ExternalTool() {}

  /** The program's path on PATH, or an exception telling how to install it. */
  static Path require(String program, String aptPackage) {
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(File.pathSeparator)) {
        Path p = Path.of(dir.isEmpty() ? "." : dir, program);
        if (Files.isRegularFile(p) && Files.isExecutable(p)) {
          return p;
        }
      }
    }
    throw new IllegalStateException(program + " is not on PATH (" + path + "); install it, e.g. apt-get install "
        + aptPackage);
  }

  /** One command line and where its stdout goes (a file, truncated first; or discarded when null). */
  record Step(List<String> command, Path stdout) {
    Step {
      command = List.copyOf(command);
    }

    static Step of(Path stdout, String... command) {
      return new Step(List.of(command), stdout);
    }

    @Override
    public String toString() {
      return String.join(" ", command) + (stdout != null ? " > " + stdout : "");
    }
  }

  /** Runs {@code step} and returns after the process exited with status 0. */
  static void run(Step step) throws IOException, InterruptedException {
    Exit exit;
    try {
      exit = exec(step.command(), step.stdout(), Map.of());
    } catch (StartException e) {
      throw new IOException("cannot start " + step + ": " + e.getMessage(), e.getCause());
    }
    if (exit.status() != 0) {
      throw new IOException(step + " exited with status " + exit.status() + ": " + tail(exit.stderr()));
    }
  }

  /** What a finished process left: its exit status and its whole stderr. */
  record Exit(int status, String stderr) {}

  /** The program could not be started (not found, not executable). */
  static final class StartException extends IOException {
    private static final long serialVersionUID = 1L;

    StartException(IOException cause) {
      super(cause.getMessage(), cause);
    }
  }

  /**
   * Runs {@code command} to its end: stdin from /dev/null, stdout into {@code stdout} (truncated first;
   * discarded when null), stderr kept, {@code env} added to this JVM's environment. The process is
   * killed if the wait is interrupted.
   *
   * @throws StartException when the program cannot be started
   */
  static Exit exec(List<String> command, Path stdout, Map<String, String> env) throws IOException, InterruptedException {
    Path err = Files.createTempFile("earlystart-bench-", ".stderr");
    try {
      ProcessBuilder pb = new ProcessBuilder(command).redirectError(err.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectOutput(stdout != null ? ProcessBuilder.Redirect.to(stdout.toFile()) : ProcessBuilder.Redirect.DISCARD);
      pb.environment().putAll(env);
      Process p;
      try {
        p = pb.start();
      } catch (IOException e) {
        throw new StartException(e);
      }
      int status;
      try {
        status = p.waitFor();
      } catch (InterruptedException e) {
        p.destroyForcibly();
        throw e;
      }
      return new Exit(status, Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(err);
    }
  }

  /**
   * Runs the pipelines (each a list of steps run one after the other) either one after the other on
   * the calling thread, or all at once, one thread per pipeline. Throws the first failure, the others
   * added as suppressed.
   */
  static void runAll(List<List<Step>> pipelines, boolean parallel) throws IOException, InterruptedException {
    if (!parallel) {
      for (List<Step> pipeline : pipelines) {
        for (Step step : pipeline) {
          run(step);
        }
      }
      return;
    }
    List<Thread> threads = new ArrayList<>();
    Throwable[] failure = new Throwable[pipelines.size()];
    for (int i = 0; i < pipelines.size(); i++) {
      List<Step> pipeline = pipelines.get(i);
      int n = i;
      Thread t = new Thread(() -> {
        try {
          for (Step step : pipeline) {
            run(step);
          }
        } catch (Throwable e) {
          failure[n] = e;
        }
      }, "external-tool-" + i);
      t.start();
      threads.add(t);
    }
    try {
      for (Thread t : threads) {
        t.join();
      }
    } catch (InterruptedException e) {
      threads.forEach(Thread::interrupt); // each kills its process
      throw e;
    }
    IOException first = null;
    for (Throwable f : failure) {
      if (f == null) {
        continue;
      }
      if (first == null) {
        first = f instanceof IOException io ? io : new IOException(f.toString(), f);
      } else {
        first.addSuppressed(f);
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private static String tail(String stderr) {
    String s = stderr.strip();
    if (s.isEmpty()) {
      return "(no stderr)";
    }
    return s.length() <= STDERR_TAIL ? s : "..." + s.substring(s.length() - STDERR_TAIL);
  }
}
