package io.earlystart.fusefs.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.earlystart.overlay.Tmpfs;
import io.earlystart.overlay.format.Image;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.roaringbitmap.RoaringBitmap;

/** The cache directory's journal and snapshot, without FUSE: clean close, crash, torn and bad records. */
class CacheStateTest {
  private static final String ID = "ab".repeat(32);
  private static final long[] SIZES = {1 << 20, (1 << 20) + 100};

  @TempDir Path dir;

  @Test
  void recordsSurviveACleanClose() throws IOException {
    Path d = dir.resolve("c");
    try (CacheState s = CacheState.open(d, ID, SIZES)) {
      s.recordApplied(3);
      s.recordApplied(7);
      s.recordWritten(Image.DISK, 11);
      s.recordWritten(Image.MEMORY, 256);
      assertEquals(SIZES[1], s.cache(Image.MEMORY).size());
    }
    assertEquals(0, Files.size(d.resolve("journal")), "close folds the journal into the snapshot");
    try (CacheState s = CacheState.open(d, ID, SIZES)) {
      assertEquals(RoaringBitmap.bitmapOf(3, 7), s.applied());
      assertEquals(RoaringBitmap.bitmapOf(11), s.written(Image.DISK));
      assertEquals(RoaringBitmap.bitmapOf(256), s.written(Image.MEMORY));
    }
  }

  /**
   * A cache on a file system with no room left (a 1 MiB tmpfs under 8 MiB sparse cache files): the write
   * that fails says so by its type, which the FUSE adapter turns into ENOSPC; an error that is not a full
   * disk keeps its own type.
   */
  @Test
  void aWriteToAFullCacheIsACacheFullException() throws Exception {
    Path mnt = dir.resolve("small");
    try (Tmpfs fs = Tmpfs.mount(mnt, "size=1m")) {
      try (CacheState s = CacheState.open(mnt.resolve("c"), ID, new long[] {8 << 20, 8 << 20})) {
        ByteBuffer chunk = ByteBuffer.allocate(4096);
        CacheFullException full = assertThrows(CacheFullException.class, () -> {
          for (long pos = 0; pos < 8 << 20; pos += 4096) {
            s.write(Image.DISK, pos, chunk.clear());
          }
        });
        assertTrue(full.getMessage().contains("No space left on device"), full.getMessage());
        s.cache(Image.DISK).truncate(0); // room again for the checkpoint at close
      }
    }
    CacheState s = CacheState.open(dir.resolve("ok"), ID, SIZES);
    s.cache(Image.DISK).close(); // a closed channel fails the next write, with the disk far from full
    IOException closed = assertThrows(IOException.class, () -> s.write(Image.DISK, 0, ByteBuffer.allocate(4096)));
    assertFalse(closed instanceof CacheFullException, closed.toString());
    assertThrows(IOException.class, s::close, "the checkpoint at close cannot flush the closed cache file");
  }

  /** A crash: the files as they are while the state is open (no checkpoint), read by a new open. */
  @Test
  void aCrashKeepsEveryJournaledRecordAndCutsATornTail() throws IOException {
    Path live = dir.resolve("live");
    Path copy = dir.resolve("copy");
    try (CacheState s = CacheState.open(live, ID, SIZES)) {
      s.recordApplied(1);
      s.checkpoint();
      s.recordApplied(2);
      s.recordWritten(Image.DISK, 5);
      copyFiles(live, copy);
    }
    long whole = Files.size(copy.resolve("journal"));
    try (RandomAccessFile j = new RandomAccessFile(copy.resolve("journal").toFile(), "rw")) {
      j.seek(whole);
      j.write(new byte[] {1, 0, 0, 0, 9}); // a record torn after 5 of its 12 bytes
    }
    try (CacheState s = CacheState.open(copy, ID, SIZES)) {
      assertEquals(RoaringBitmap.bitmapOf(1, 2), s.applied());
      assertEquals(RoaringBitmap.bitmapOf(5), s.written(Image.DISK));
      assertEquals(whole, Files.size(copy.resolve("journal")), "the torn tail is cut off");
      s.recordApplied(4); // appends after the good records
    }
    try (CacheState s = CacheState.open(copy, ID, SIZES)) {
      assertEquals(RoaringBitmap.bitmapOf(1, 2, 4), s.applied());
    }
  }

  @Test
  void aBadRecordEndsTheReplay() throws IOException {
    Path live = dir.resolve("live");
    Path copy = dir.resolve("copy");
    try (CacheState s = CacheState.open(live, ID, SIZES)) {
      for (int i = 0; i < 5; i++) {
        s.recordApplied(i);
      }
      copyFiles(live, copy);
    }
    try (RandomAccessFile j = new RandomAccessFile(copy.resolve("journal").toFile(), "rw")) {
      j.seek(2 * CacheState.RECORD + 4); // the index of the third record
      j.write(0x7f);
    }
    try (CacheState s = CacheState.open(copy, ID, SIZES)) {
      assertEquals(RoaringBitmap.bitmapOf(0, 1), s.applied(), "records after a bad one were never trusted");
    }
  }

  @Test
  void manyRecordsAreFoldedIntoTheSnapshot() throws IOException {
    Path d = dir.resolve("c");
    try (CacheState s = CacheState.open(d, ID, SIZES)) {
      for (int i = 0; i < (1 << 16) + 10; i++) {
        s.recordWritten(Image.MEMORY, i);
      }
      assertTrue(Files.size(d.resolve("journal")) < 100 * CacheState.RECORD, "checkpointed on the way");
      assertEquals((1 << 16) + 10, s.written(Image.MEMORY).getCardinality());
    }
  }

  @Test
  void recordsGoOnWhileACheckpointFlushesTheCaches() throws Exception {
    Path d = dir.resolve("c");
    CountDownLatch flushing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger flushes = new AtomicInteger();
    CacheState.Flush slowFirst = c -> {
      if (flushes.getAndIncrement() == 0) { // the first flush of the first checkpoint: a slow disk
        flushing.countDown();
        try {
          assertTrue(release.await(30, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
          throw new java.io.InterruptedIOException();
        }
      }
      c.force(false);
    };
    ExecutorService other = Executors.newSingleThreadExecutor();
    ExecutorService others = Executors.newSingleThreadExecutor();
    try (CacheState s = CacheState.open(d, ID, SIZES, slowFirst)) {
      for (int i = 0; i < CacheState.CHECKPOINT_RECORDS - 1; i++) {
        s.recordWritten(Image.MEMORY, i);
      }
      Future<?> due = other.submit(() -> {
        s.recordWritten(Image.MEMORY, CacheState.CHECKPOINT_RECORDS - 1); // makes the checkpoint due
        return null;
      });
      assertTrue(flushing.await(30, TimeUnit.SECONDS));
      // while that flush waits for the disk, others record (before: they waited for the monitor it held)
      Future<?> meanwhile = others.submit(() -> {
        s.recordApplied(7);
        s.recordWritten(Image.DISK, 3);
        return null;
      });
      meanwhile.get(10, TimeUnit.SECONDS);
      assertTrue(s.written(Image.DISK).contains(3));
      assertTrue(Files.size(d.resolve("journal")) > (long) CacheState.CHECKPOINT_RECORDS * CacheState.RECORD,
          "not checkpointed yet");
      release.countDown();
      due.get(30, TimeUnit.SECONDS);
      assertTrue(Files.size(d.resolve("journal")) < 100 * CacheState.RECORD, "checkpointed");
    } finally {
      release.countDown();
      other.shutdownNow();
      others.shutdownNow();
    }
    try (CacheState s = CacheState.open(d, ID, SIZES)) {
      assertEquals(CacheState.CHECKPOINT_RECORDS, s.written(Image.MEMORY).getCardinality());
      assertEquals(RoaringBitmap.bitmapOf(3), s.written(Image.DISK));
      assertEquals(RoaringBitmap.bitmapOf(7), s.applied());
    }
  }

  @Test
  void anotherOverlaysCacheIsRefused() throws IOException {
    Path d = dir.resolve("c");
    CacheState.open(d, ID, SIZES).close();
    IOException e = assertThrows(IOException.class, () -> CacheState.open(d, "cd".repeat(32), SIZES));
    assertTrue(e.getMessage().contains("holds overlay " + ID), e.getMessage());
  }

  @Test
  void aCacheInUseIsRefused() throws IOException {
    Path d = dir.resolve("c");
    try (CacheState s = CacheState.open(d, ID, SIZES)) {
      IOException e = assertThrows(IOException.class, () -> CacheState.open(d, ID, SIZES));
      assertTrue(e.getMessage().contains("in use"), e.getMessage());
    }
  }

  @Test
  void aDamagedSnapshotIsRefusedWithAClearMessage() throws IOException {
    Path d = dir.resolve("c");
    try (CacheState s = CacheState.open(d, ID, SIZES)) {
      s.recordApplied(1);
    }
    try (RandomAccessFile f = new RandomAccessFile(d.resolve("state").toFile(), "rw")) {
      f.seek(10);
      f.write(0x55);
    }
    IOException e = assertThrows(IOException.class, () -> CacheState.open(d, ID, SIZES));
    assertTrue(e.getMessage().contains("damaged"), e.getMessage());
  }

  @Test
  void aCacheFileOfTheWrongSizeIsRefused() throws IOException {
    Path d = dir.resolve("c");
    CacheState.open(d, ID, SIZES).close();
    IOException e = assertThrows(IOException.class, () -> CacheState.open(d, ID, new long[] {SIZES[0], 5000}));
    assertTrue(e.getMessage().contains("memory.cache"), e.getMessage());
  }

  private static void copyFiles(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    for (String name : List.of("overlay-id", "journal", "state", "disk.cache", "memory.cache")) {
      if (Files.exists(from.resolve(name))) {
        Files.copy(from.resolve(name), to.resolve(name));
      }
    }
  }
}
