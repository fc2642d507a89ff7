package io.earlystart.fusefs.fuse;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicReferenceArray;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * A small lock-free pool of {@link Scratch} buffers for the FUSE read and write paths of {@link ImageFs}.
 *
 * <p>Why not a {@code ThreadLocal}: under libfuse's own loop ({@code -Dearlystart.fuse.loop=libfuse})
 * jffi attaches the native FUSE thread to the JVM for each callback and detaches it afterwards, so
 * every callback runs on a <em>new</em> {@code java.lang.Thread} (measured: 64 reads on a handful of
 * native threads showed 64 Java thread names; jnr/jnr-ffi#125). A thread-local would allocate a
 * 128 KiB direct buffer per read.
 *
 * <p>{@link #take()} and {@link #give} do not allocate while no more than {@link #SLOTS} requests run
 * at once; beyond that a buffer is made and, if no slot is free on return, dropped. Thread-safe.
 */
final class ScratchPool {
  /** The largest request the adapter serves in one copy; larger ones are served in parts. */
  static final int SCRATCH_BYTES = 128 * 1024;

  static final int SLOTS = 32;

  /**
   * A direct buffer and a jnr {@link Pointer} at its <em>address</em>, made once and reused. Not
   * {@code Pointer.wrap(runtime, buffer)}: that makes a buffer-backed pointer, and jnr copies between
   * it and the FUSE buffer one byte at a time (and within the buffer's current limit); a pointer at
   * the address is a native one, and {@code transferTo/From} between two native pointers is a memcpy.
   */
  static final class Scratch {
    final ByteBuffer buffer = ByteBuffer.allocateDirect(SCRATCH_BYTES);
    final Pointer pointer = Pointer.wrap(Runtime.getSystemRuntime(),
        com.kenai.jffi.MemoryIO.getInstance().getDirectBufferAddress(buffer));
  }

  private final AtomicReferenceArray<Scratch> slots = new AtomicReferenceArray<>(SLOTS);

  Scratch take() {
    int start = (int) (Thread.currentThread().getId() & (SLOTS - 1));
    for (int i = 0; i < SLOTS; i++) {
      int slot = (start + i) & (SLOTS - 1);
      Scratch s = slots.get(slot);
      if (s != null && slots.compareAndSet(slot, s, null)) {
        return s;
      }
    }
    return new Scratch();
  }

  /** Returns {@code s} to the pool, or drops it when every slot is taken. */
  void give(Scratch s) {
    int start = (int) (Thread.currentThread().getId() & (SLOTS - 1));
    for (int i = 0; i < SLOTS; i++) {
      int slot = (start + i) & (SLOTS - 1);
      if (slots.get(slot) == null && slots.compareAndSet(slot, null, s)) {
        return;
      }
    }
  }
}
