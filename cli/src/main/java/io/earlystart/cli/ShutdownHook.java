package io.earlystart.cli;

/**
 * A JVM shutdown hook for the life of a command's run (SIGINT/SIGTERM: stop QEMU, unmount): registered
 * on construction, removed by {@link #close()} unless the JVM is already shutting down and running it.
 */
final class ShutdownHook implements AutoCloseable {
  private final Thread hook;

  ShutdownHook(Thread hook) {
    this.hook = hook;
    Runtime.getRuntime().addShutdownHook(hook);
  }

  @Override
  public void close() {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // shutting down: the hook is running
    }
  }
}
