package io.earlystart.fusefs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScratchPoolTest {

    @Test
    void reusesAGivenBuffer() {
        ScratchPool pool = new ScratchPool();
        ImageFs.Scratch a = pool.take();
        pool.give(a);
        assertSame(a, pool.take());
        assertEquals(ImageFs.SCRATCH_BYTES, a.buffer.capacity());
        assertTrue(a.buffer.isDirect());
    }

    @Test
    void concurrentTakersGetDistinctBuffersAndOverflowIsDropped() {
        ScratchPool pool = new ScratchPool();
        List<ImageFs.Scratch> taken = new ArrayList<>();
        for (int i = 0; i < ScratchPool.SLOTS + 4; i++) {
            taken.add(pool.take());
        }
        assertEquals(taken.size(), new HashSet<>(taken).size());
        taken.forEach(pool::give); // the 4 beyond SLOTS are dropped, no exception
        List<ImageFs.Scratch> again = new ArrayList<>();
        for (int i = 0; i < ScratchPool.SLOTS; i++) {
            again.add(pool.take());
        }
        assertEquals(ScratchPool.SLOTS, new HashSet<>(again).size());
        assertNotNull(again.get(0));
    }
}
