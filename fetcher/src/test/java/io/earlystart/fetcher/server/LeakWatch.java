package io.earlystart.fetcher.server;

import io.netty.buffer.AbstractByteBuf;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.lang.reflect.Field;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Netty's leak detector at PARANOID, with a listener on the ByteBuf detector so that a test can
 * assert that no buffer leaked (netty only logs leaks).
 */
final class LeakWatch {
  private static final List<String> LEAKS = new CopyOnWriteArrayList<>();
  private static boolean installed;

  private LeakWatch() {}

  static synchronized void install() throws ReflectiveOperationException {
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    if (installed) {
      return;
    }
    Field f = AbstractByteBuf.class.getDeclaredField("leakDetector");
    f.setAccessible(true);
    @SuppressWarnings("unchecked")
    ResourceLeakDetector<ByteBuf> detector = (ResourceLeakDetector<ByteBuf>) f.get(null);
    detector.setLeakListener((type, records) -> LEAKS.add(type + ": " + records));
    installed = true;
  }

  /** Collects garbage and lets the detector look at what was collected; the leaks found so far. */
  static List<String> leaks() throws InterruptedException {
    for (int round = 0; round < 5; round++) {
      System.gc();
      Thread.sleep(40);
      for (int i = 0; i < 100; i++) {
        PooledByteBufAllocator.DEFAULT.directBuffer(16).release(); // track() reports what was collected
        PooledByteBufAllocator.DEFAULT.heapBuffer(16).release();
      }
    }
    return List.copyOf(LEAKS);
  }
}
