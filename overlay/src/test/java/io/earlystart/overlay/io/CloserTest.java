package io.earlystart.overlay.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class CloserTest {
  private final List<String> closed = new ArrayList<>();

  private Closeable ok(String name) {
    return () -> closed.add(name);
  }

  @Test
  void aRuntimeExceptionDoesNotSkipTheRest() {
    IllegalStateException boom = new IllegalStateException("boom");
    IOException later = new IOException("later");
    Closeable throwsRuntime = () -> {
      closed.add("a");
      throw boom;
    };
    Closeable throwsIo = () -> {
      closed.add("b");
      throw later;
    };
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Closer.closeAll(Arrays.asList(throwsRuntime, throwsIo, ok("c"))));
    assertSame(boom, e);
    assertEquals(List.of("a", "b", "c"), closed);
    assertEquals(List.of(later), List.of(e.getSuppressed()));
  }

  @Test
  void thePrimaryFailureWinsAndKeepsTheCloseFailures() {
    IOException primary = new IOException("primary");
    RuntimeException close = new RuntimeException("close");
    Closeable bad = () -> {
      throw close;
    };
    IOException e = assertThrows(IOException.class, () -> Closer.closeAll(primary, bad, null, ok("x")));
    assertSame(primary, e);
    assertEquals(List.of("x"), closed);
    assertTrue(List.of(e.getSuppressed()).contains(close));
  }
}
