package io.earlystart.fusefs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ScratchPoolTest {

  @Test
  void reusesAGivenBuffer() {
    ImageFs.ScratchPool pool = new ImageFs.ScratchPool();
    ImageFs.ScratchPool.Scratch a = pool.take();
    pool.give(a);
    assertSame(a, pool.take());
    assertEquals(ImageFs.ScratchPool.SCRATCH_BYTES, a.buffer.capacity());
    assertTrue(a.buffer.isDirect());
  }

  @Test
  void concurrentTakersGetDistinctBuffersAndOverflowIsDropped() {
    ImageFs.ScratchPool pool = new ImageFs.ScratchPool();
    List<ImageFs.ScratchPool.Scratch> taken = new ArrayList<>();
    for (int i = 0; i < ImageFs.ScratchPool.SLOTS + 4; i++) {
      taken.add(pool.take());
    }
    Set<ImageFs.ScratchPool.Scratch> given = new HashSet<>(taken);
    assertEquals(taken.size(), given.size());
    taken.forEach(pool::give); // the 4 beyond SLOTS find no free slot: dropped, no exception
    Set<ImageFs.ScratchPool.Scratch> again = new HashSet<>();
    for (int i = 0; i < ImageFs.ScratchPool.SLOTS; i++) {
      again.add(pool.take());
    }
    assertEquals(ImageFs.ScratchPool.SLOTS, again.size());
    assertTrue(given.containsAll(again), "the pool hands back the buffers it kept");
    assertFalse(given.contains(pool.take()), "the pool is empty now: the 4 over its slots were dropped");
  }
}
