package io.earlystart.fusefs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.fusefs.image.CacheFullException;
import io.earlystart.fusefs.image.ImageBoundsException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.SocketTimeoutException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ErrnoTest {

  // Linux x86_64 values, so the test also proves ErrorCodes returns positive numbers
  private static final int EIO = 5;
  private static final int EINTR = 4;
  private static final int ENOENT = 2;
  private static final int ENOSPC = 28;

  @AfterEach
  void clearInterrupt() {
    Thread.interrupted();
  }

  @Test
  void timeoutAndCorruptionAreEio() {
    assertEquals(-EIO, Errno.of(new TimeoutException("deadline")));
    assertEquals(-EIO, Errno.of(new SocketTimeoutException("read timed out")));
    assertEquals(-EIO, Errno.of(new IOException("corrupt segment 7 in overlay.eso at 4096")));
    assertEquals(-EIO, Errno.of(new IllegalStateException("bug")));
    assertEquals(-EIO, Errno.of(new OutOfMemoryError()));
    assertFalse(Thread.currentThread().isInterrupted());
  }

  @Test
  void interruptedIsEintrAndRestoresTheFlag() {
    assertEquals(-EINTR, Errno.of(new InterruptedException()));
    assertTrue(Thread.interrupted());
    assertEquals(-EINTR, Errno.of(new InterruptedIOException()));
    assertTrue(Thread.interrupted());
  }

  @Test
  void unknownPathIsEnoent() {
    assertEquals(-ENOENT, Errno.of(new NoSuchFileException("/x")));
  }

  @Test
  void aFullCacheAndAWriteOutsideTheImageAreEnospcByType() {
    IOException noSpace = new IOException("No space left on device");
    assertEquals(-ENOSPC, Errno.of(new CacheFullException(noSpace.getMessage(), noSpace)));
    assertEquals(-ENOSPC, Errno.of(new ImageBoundsException("disk.img is 4096 bytes; cannot write 2 bytes at 4095")));
    assertEquals(-ENOSPC, Errno.of(new CompletionException(new CacheFullException("full", noSpace))));
    assertEquals(-EIO, Errno.of(noSpace), "a message is not an errno: only the cache writes know the disk is full");
  }

  @Test
  void wrappersMapLikeTheirCause() {
    assertEquals(-ENOENT, Errno.of(new CompletionException(new NoSuchFileException("/x"))));
    assertEquals(-EINTR, Errno.of(new UncheckedIOException(new InterruptedIOException())));
    assertTrue(Thread.interrupted());
    assertEquals(-EIO, Errno.of(new CompletionException(null)));
  }
}
