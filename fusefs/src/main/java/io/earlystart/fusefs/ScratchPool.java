package io.earlystart.fusefs;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A small lock-free pool of {@link ImageFs.Scratch} buffers for the FUSE read path.
 *
 * <p>Why not a {@code ThreadLocal}: jffi attaches the native FUSE thread to the JVM for each
 * callback and detaches it afterwards, so every callback runs on a <em>new</em>
 * {@code java.lang.Thread} (measured: 64 reads on a handful of native threads showed 64 Java thread
 * names; jnr/jnr-ffi#125). A thread-local would allocate a 128 KiB direct buffer per read.
 *
 * <p>{@link #take()} and {@link #give} do not allocate while no more than {@link #SLOTS} reads run
 * at once (libfuse 2's multi-threaded loop keeps at most 10 idle workers); beyond that a buffer is
 * made and, if no slot is free on return, dropped. Thread-safe.
 */
final class ScratchPool {

    static final int SLOTS = 32;

    private final AtomicReferenceArray<ImageFs.Scratch> slots = new AtomicReferenceArray<>(SLOTS);

    ImageFs.Scratch take() {
        int start = (int) (Thread.currentThread().getId() & (SLOTS - 1));
        for (int i = 0; i < SLOTS; i++) {
            int slot = (start + i) & (SLOTS - 1);
            ImageFs.Scratch s = slots.get(slot);
            if (s != null && slots.compareAndSet(slot, s, null)) {
                return s;
            }
        }
        return new ImageFs.Scratch();
    }

    void give(ImageFs.Scratch s) {
        int start = (int) (Thread.currentThread().getId() & (SLOTS - 1));
        for (int i = 0; i < SLOTS; i++) {
            int slot = (start + i) & (SLOTS - 1);
            if (slots.get(slot) == null && slots.compareAndSet(slot, null, s)) {
                return;
            }
        }
    }
}
