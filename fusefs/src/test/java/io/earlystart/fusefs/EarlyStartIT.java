package io.earlystart.fusefs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.earlystart.fetcher.SchedulerOptions;
import io.earlystart.fetcher.server.OverlayServer;
import io.earlystart.fetcher.server.ServerOptions;
import io.earlystart.fusefs.fuse.MountOptions;
import io.earlystart.fusefs.fuse.MountTable;
import io.earlystart.fusefs.image.CacheState;
import io.earlystart.fusefs.image.EarlyImage;
import io.earlystart.overlay.RandomPair;
import io.earlystart.overlay.create.CreateOptions;
import io.earlystart.overlay.create.OverlayCreator;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.io.Progress;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.roaringbitmap.RoaringBitmap;

/**
 * Early start through real FUSE mounts in a temporary directory, fed by the real protocol server over
 * a shaped loopback link: reads while streaming, mmap, guest writes and their persistence, kill -9,
 * and a source that goes away.
 */
@Timeout(120)
class EarlyStartIT {
  static final List<String> MOUNT_OPTIONS = MountOptions.writable(List.of());
  private static final int CS = 4096;
  private static final int SEGMENT = 32 << 10;

  @TempDir static Path shared;
  private static RandomPair pair;
  private static Path overlayDir;
  private static byte[] disk;
  private static byte[] memory;

  @TempDir Path tmp;
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeAll
  static void overlay() throws Exception {
    FuseRequirement.check();
    Path images = Files.createDirectory(shared.resolve("images"));
    // sizes that are not multiples of 4 KiB; every chunk kind (RandomPair)
    pair = RandomPair.create(images, 42, 3 << 20, (3 << 20) + 1000, (4 << 20) - 100);
    overlayDir = Files.createDirectory(shared.resolve("served"));
    Files.write(images.resolve("vmstate"), "device state".getBytes(StandardCharsets.UTF_8));
    OverlayCreator.create(CreateOptions.of(pair.baseDisk, pair.baseMemory, pair.disk, pair.memory,
        overlayDir.resolve("app.overlay")).withAttachments(images.resolve("vmstate"), null)
        .withSegmentSize(SEGMENT).withLevel(3), Progress.NONE);
    disk = Files.readAllBytes(pair.disk);
    memory = Files.readAllBytes(pair.memory);
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private OverlayServer serve(long rate, Duration delay, int port) throws IOException {
    OverlayServer s = OverlayServer.start(ServerOptions.of(overlayDir).withBind("127.0.0.1", port).withRate(rate)
        .withDelay(delay));
    open.add(s);
    return s;
  }

  private static String source(OverlayServer s) {
    return "es://127.0.0.1:" + s.port() + "/app.overlay";
  }

  private EarlyStart.Options options(String source, Path cache) {
    return EarlyStart.Options.of(pair.baseDisk, pair.baseMemory, source, cache)
        .withWaits(Duration.ofSeconds(30), Duration.ofSeconds(30))
        .withScheduler(SchedulerOptions.DEFAULTS.withWindowBytes(64 << 10)
            .withBackoff(Duration.ofMillis(50), Duration.ofMillis(200)));
  }

  /** Opens and mounts; both are closed after the test (mount first). */
  private EarlyStart mount(EarlyStart.Options o, Path mnt) throws Exception {
    EarlyStart es = EarlyStart.open(o);
    open.add(es);
    es.mount(mnt, MOUNT_OPTIONS);
    open.add(() -> {
      es.unmount();
      assertFalse(MountTable.isMounted(mnt), "still mounted: " + mnt);
    });
    return es;
  }

  @Test
  void concurrentRandomReadsWhileStreamingEqualTheCustomisedImages() throws Exception {
    OverlayServer server = serve(4_000_000 / 8, Duration.ofMillis(5), 0); // 4 Mbit/s, 10 ms RTT
    Path mnt = Files.createDirectory(tmp.resolve("mnt"));
    EarlyStart es = mount(options(source(server), tmp.resolve("cache")), mnt);
    assertFalse(es.scheduler().completion().isDone(), "the stream should still be running");
    ExecutorService readers = Executors.newFixedThreadPool(8);
    try {
      List<Future<Integer>> done = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        long seed = 100 + t;
        done.add(readers.submit(() -> randomReads(mnt, seed, 40)));
      }
      for (Future<Integer> f : done) {
        assertEquals(40, f.get(60, TimeUnit.SECONDS));
      }
    } finally {
      readers.shutdownNow();
    }
    assertTrue(es.scheduler().stats().demands() > 0, "random reads ahead of the stream must demand segments");
    assertTrue(waitsOf(es) > 0, "some reads must have waited for their chunks");
    es.scheduler().completion().get(60, TimeUnit.SECONDS);
    assertArrayEquals(disk, Files.readAllBytes(mnt.resolve("disk.img")));
    assertArrayEquals(memory, Files.readAllBytes(mnt.resolve("memory.img")));
    assertArrayEquals("device state".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(mnt.resolve("vmstate")));
    String status = Files.readString(mnt.resolve("status"));
    assertTrue(status.contains("\"state\": \"complete\""), status);
  }

  private static long waitsOf(EarlyStart es) {
    String s = es.statusJson();
    int disk = s.indexOf("\"disk\": {\"count\": ");
    int mem = s.indexOf("\"memory\": {\"count\": ");
    return Long.parseLong(s.substring(disk + 18, s.indexOf(',', disk)))
        + Long.parseLong(s.substring(mem + 20, s.indexOf(',', mem)));
  }

  /** {@code n} reads of 1 byte to 128 KiB at random offsets of either image, each checked. */
  private static int randomReads(Path mnt, long seed, int n) throws IOException {
    Random r = new Random(seed);
    try (FileChannel d = FileChannel.open(mnt.resolve("disk.img"));
        FileChannel m = FileChannel.open(mnt.resolve("memory.img"))) {
      for (int i = 0; i < n; i++) {
        boolean isDisk = r.nextBoolean();
        byte[] want = isDisk ? disk : memory;
        int len = 1 + r.nextInt(128 << 10);
        int off = r.nextInt(want.length);
        len = Math.min(len, want.length - off);
        ByteBuffer b = ByteBuffer.allocate(len);
        FileChannel ch = isDisk ? d : m;
        while (b.hasRemaining() && ch.read(b, off + b.position()) > 0) {
          // read it all
        }
        byte[] expected = java.util.Arrays.copyOfRange(want, off, off + len);
        assertArrayEquals(expected, b.array(), (isDisk ? "disk" : "memory") + " at " + off + "+" + len);
      }
    }
    return n;
  }

  @Test
  void mmapPrivateIsCopyOnWriteAndSharedWritesBack() throws Exception {
    OverlayServer server = serve(8_000_000 / 8, Duration.ofMillis(2), 0);
    Path mnt = Files.createDirectory(tmp.resolve("mnt"));
    mount(options(source(server), tmp.resolve("cache")), mnt);
    String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(memory));
    int at = 37 * CS;

    List<String> priv = child(MmapWriter.class, mnt.resolve("memory.img").toString(), "private", "" + at);
    assertEquals(List.of(sha, "written"), priv, "MAP_PRIVATE reads the customised memory and writes privately");
    assertArrayEquals(java.util.Arrays.copyOfRange(memory, at, at + CS), read(mnt.resolve("memory.img"), at, CS),
        "a private mapping's writes must not reach the file");

    List<String> shr = child(MmapWriter.class, mnt.resolve("memory.img").toString(), "shared", "" + at);
    assertEquals(List.of(sha, "written"), shr);
    byte[] p = new byte[CS];
    java.util.Arrays.fill(p, (byte) 'P');
    assertArrayEquals(p, read(mnt.resolve("memory.img"), at, CS), "a shared mapping's writes reach the file");
  }

  /**
   * QEMU's discards through the mount (util-linux {@code fallocate}, the same system call): a punched
   * range reads as zeros at once and after a remount, overlay data arriving later does not undo it,
   * other modes are EOPNOTSUPP and a range past the end EINVAL, each changing nothing, and the mount
   * keeps taking punches after them (never ENOSYS, which would turn fallocate off for the mount).
   */
  @Test
  void discardsReadAsZerosWinOverArrivalsAndSurviveARemount() throws Exception {
    OverlayServer server = serve(8_000_000 / 8, Duration.ofMillis(2), 0);
    Path cache = tmp.resolve("cache");
    Path mnt = Files.createDirectory(tmp.resolve("mnt"));
    byte[] wantDisk = disk.clone();
    byte[] wantMem = memory.clone();
    EarlyStart es = mount(options(source(server), cache), mnt);
    Path memImg = mnt.resolve("memory.img");
    Path diskImg = mnt.resolve("disk.img");
    long memEnd = wantMem.length / CS * CS; // whole chunks at the end of memory, far behind in the stream
    fallocate(0, "--punch-hole", "--offset", String.valueOf(memEnd - 64 * CS), "--length", String.valueOf(48 * CS),
        memImg.toString());
    java.util.Arrays.fill(wantMem, (int) (memEnd - 64 * CS), (int) (memEnd - 16 * CS), (byte) 0);
    fallocate(0, "--punch-hole", "--offset", "5000", "--length", "10000", diskImg.toString()); // parts of chunks
    java.util.Arrays.fill(wantDisk, 5000, 15000, (byte) 0);
    assertTrue(fallocate(1, "--length", "4096", diskImg.toString()).contains("Operation not supported"));
    assertTrue(fallocate(1, "--punch-hole", "--offset", String.valueOf(wantDisk.length - CS), "--length",
        String.valueOf(2 * CS), diskImg.toString()).contains("Invalid argument"));
    fallocate(0, "--punch-hole", "--offset", String.valueOf(wantDisk.length - 300), "--length", "300",
        diskImg.toString()); // the short last chunk, after the refusals
    java.util.Arrays.fill(wantDisk, wantDisk.length - 300, wantDisk.length, (byte) 0);
    es.scheduler().completion().get(60, TimeUnit.SECONDS);
    assertArrayEquals(wantMem, Files.readAllBytes(memImg), "discards win over arrivals");
    assertArrayEquals(wantDisk, Files.readAllBytes(diskImg));
    closeAll();
    open.clear();

    OverlayServer again = serve(0, Duration.ZERO, 0);
    Path mnt2 = Files.createDirectory(tmp.resolve("mnt2"));
    mount(options(source(again), cache), mnt2);
    assertArrayEquals(wantDisk, Files.readAllBytes(mnt2.resolve("disk.img")));
    assertArrayEquals(wantMem, Files.readAllBytes(mnt2.resolve("memory.img")));
  }

  /** Runs util-linux's fallocate with {@code args}; fails unless it exits with {@code exit}; its output. */
  private static String fallocate(int exit, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("fallocate"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "fallocate hangs: " + cmd);
    assertEquals(exit, p.exitValue(), cmd + ": " + out);
    return out;
  }

  @Test
  void guestWritesSurviveUnmountAndRemount() throws Exception {
    OverlayServer server = serve(8_000_000 / 8, Duration.ofMillis(2), 0);
    Path cache = tmp.resolve("cache");
    Path mnt = Files.createDirectory(tmp.resolve("mnt"));
    byte[] wantDisk = disk.clone();
    byte[] wantMem = memory.clone();
    EarlyStart.Options o = options(source(server), cache);
    EarlyStart es = mount(o, mnt);
    Random r = new Random(7);
    try (FileChannel d = FileChannel.open(mnt.resolve("disk.img"), StandardOpenOption.WRITE);
        FileChannel m = FileChannel.open(mnt.resolve("memory.img"), StandardOpenOption.WRITE)) {
      for (int i = 0; i < 30; i++) {
        boolean isDisk = i % 2 == 0;
        byte[] want = isDisk ? wantDisk : wantMem;
        // partial chunks, whole chunks, spans of several chunks, the short last chunk
        int len = i % 3 == 0 ? CS : 1 + r.nextInt(3 * CS);
        int off = i == 28 ? want.length - len : (i % 3 == 0 ? r.nextInt(want.length / CS - 1) * CS
            : r.nextInt(want.length - len));
        byte[] data = new byte[len];
        r.nextBytes(data);
        System.arraycopy(data, 0, want, off, len);
        (isDisk ? d : m).write(ByteBuffer.wrap(data), off);
      }
      d.force(true);
    }
    assertArrayEquals(wantDisk, Files.readAllBytes(mnt.resolve("disk.img")));
    es.scheduler().completion().get(60, TimeUnit.SECONDS);
    assertArrayEquals(wantMem, Files.readAllBytes(mnt.resolve("memory.img")), "guest writes win over arrivals");
    closeAll();
    open.clear();

    OverlayServer again = serve(0, Duration.ZERO, 0);
    Path mnt2 = Files.createDirectory(tmp.resolve("mnt2"));
    EarlyStart es2 = mount(options(source(again), cache), mnt2);
    assertArrayEquals(wantDisk, Files.readAllBytes(mnt2.resolve("disk.img")));
    assertArrayEquals(wantMem, Files.readAllBytes(mnt2.resolve("memory.img")));
    assertEquals(0, es2.scheduler().stats().segmentsFetched(), "a complete cache fetches nothing");
    assertEquals(0, java.util.Arrays.stream(again.segmentsSent("app.overlay")).sum());
  }

  @Test
  void killedMidStreamThenRemountedFinishesWithWritesAndNoRefetch() throws Exception {
    // 1 Mbit/s: the whole overlay takes about 5 s, so the stream, which starts before the child's mount
    // (EarlyStart.mount), is still running when the write comes and the child is killed
    OverlayServer server = serve(1_000_000 / 8, Duration.ofMillis(2), 0);
    Path cache = tmp.resolve("cache");
    Path mnt = Files.createDirectory(tmp.resolve("mnt"));
    Process p = start(MountMain.class, pair.baseDisk.toString(), pair.baseMemory.toString(), source(server),
        cache.toString(), mnt.toString());
    byte[] wantDisk = disk.clone();
    byte[] written = new byte[3 * CS + 123];
    new Random(9).nextBytes(written);
    int at = 5 * CS + 17;
    try {
      awaitLine(p, "ready", Duration.ofSeconds(30));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (java.util.Arrays.stream(server.segmentsSent("app.overlay")).sum() < 5) {
        assertTrue(System.nanoTime() < deadline, "no segments streamed");
        Thread.sleep(20);
      }
      try (FileChannel d = FileChannel.open(mnt.resolve("disk.img"), StandardOpenOption.WRITE)) {
        d.write(ByteBuffer.wrap(written), at);
      }
      System.arraycopy(written, 0, wantDisk, at, written.length);
    } finally {
      p.destroyForcibly(); // SIGKILL
      assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (MountTable.isMounted(mnt)) { // auto_unmount's helper removes it
      assertTrue(System.nanoTime() < deadline, "a killed mount must not stay mounted");
      Thread.sleep(10);
    }
    int total = server.segmentsSent("app.overlay").length;
    RoaringBitmap applied;
    String id;
    try (EarlyStart probe = EarlyStart.open(options(source(server), tmp.resolve("probe")))) {
      id = probe.head().id();
    }
    try (CacheState state = CacheState.open(cache, id, new long[] {disk.length, memory.length})) {
      applied = state.applied();
    }
    assertTrue(applied.getCardinality() > 0 && applied.getCardinality() < total,
        "killed mid-stream: " + applied.getCardinality() + " of " + total + " applied");
    int[] before = server.segmentsSent("app.overlay");

    Path mnt2 = Files.createDirectory(tmp.resolve("mnt2"));
    EarlyStart es = mount(options(source(server), cache), mnt2);
    es.scheduler().completion().get(60, TimeUnit.SECONDS);
    int[] after = server.segmentsSent("app.overlay");
    for (int s : applied.toArray()) {
      assertEquals(before[s], after[s], "segment " + s + " was applied before the kill and fetched again");
    }
    assertArrayEquals(wantDisk, Files.readAllBytes(mnt2.resolve("disk.img")));
    assertArrayEquals(memory, Files.readAllBytes(mnt2.resolve("memory.img")));
  }

  @Test
  void aStaleMountOfADeadProcessIsCleanedBeforeMounting() throws Exception {
    OverlayServer server = serve(0, Duration.ZERO, 0);
    Path mnt = Files.createDirectory(tmp.resolve("mnt"));
    Process p = start(MountMain.class, pair.baseDisk.toString(), pair.baseMemory.toString(), source(server),
        tmp.resolve("dead-cache").toString(), mnt.toString(), "no-auto-unmount");
    try {
      awaitLine(p, "ready", Duration.ofSeconds(30));
    } finally {
      p.destroyForcibly();
      assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    }
    assertTrue(MountTable.isMounted(mnt), "without auto_unmount a killed daemon leaves its mount");
    IOException stale = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
        () -> Files.readAllBytes(mnt.resolve("vm.json")));
    assertTrue(String.valueOf(stale.getMessage()).contains("not connected"), stale.toString());
    EarlyStart es = mount(options(source(server), tmp.resolve("cache")), mnt);
    es.scheduler().completion().get(30, TimeUnit.SECONDS);
    assertArrayEquals(memory, Files.readAllBytes(mnt.resolve("memory.img")));
  }

  @Test
  void sourceGoneDiskReadFailsAtItsDeadlineMemoryReadWaitsForTheSource() throws Exception {
    OverlayServer server = serve(1_000_000 / 8, Duration.ofMillis(2), 0); // 1 Mbit/s: most is far away
    int port = server.port();
    Path mnt = Files.createDirectory(tmp.resolve("mnt"));
    EarlyStart.Options o = options(source(server), tmp.resolve("cache"))
        .withWaits(Duration.ofSeconds(1), Duration.ofSeconds(30));
    EarlyStart es = mount(o, mnt);
    long diskChunk = lastMissing(es.image(Image.DISK));
    long memChunk = lastMissing(es.image(Image.MEMORY));
    server.close();

    long t0 = System.nanoTime();
    try (FileChannel d = FileChannel.open(mnt.resolve("disk.img"))) {
      d.read(ByteBuffer.allocate(CS), diskChunk * CS);
      fail("a disk.img read of a chunk that cannot arrive must fail");
    } catch (IOException e) {
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertTrue(e.getMessage().contains("Input/output error"), e.toString());
      assertTrue(ms >= 900 && ms < 10_000, "EIO after the 1 s deadline, not " + ms + " ms");
    }

    ExecutorService reader = Executors.newSingleThreadExecutor();
    try {
      Future<byte[]> mem = reader.submit(() -> read(mnt.resolve("memory.img"), memChunk * CS, CS));
      try {
        mem.get(2, TimeUnit.SECONDS);
        fail("a memory.img read must block while the source is gone");
      } catch (TimeoutException expected) {
        // still waiting, as it must
      }
      assertTrue(es.statusJson().contains("\"waitingNow\": 1"), es.statusJson());
      serve(0, Duration.ZERO, port);
      byte[] got = mem.get(20, TimeUnit.SECONDS);
      int off = (int) (memChunk * CS);
      assertArrayEquals(java.util.Arrays.copyOfRange(memory, off, Math.min(memory.length, off + CS)), got);
    } finally {
      reader.shutdownNow();
    }
    es.scheduler().completion().get(30, TimeUnit.SECONDS);
    assertArrayEquals(disk, Files.readAllBytes(mnt.resolve("disk.img")));
  }

  /**
   * Reads that wait hold a worker each, so the loop must start more ({@code FuseLoop}): with 12 reads
   * waiting for a source that is gone (the kernel passes on at most 12 page-cache reads at a time, its
   * default {@code max_background}), the status file still answers at once. (A page-cache read of an
   * arrived chunk does not: it queues in the kernel behind those 12, whichever loop serves; FUSE.md.)
   */
  @Test
  void readsWaitingForAGoneSourceDoNotHoldUpOtherRequests() throws Exception {
    OverlayServer server = serve(1_000_000 / 8, Duration.ofMillis(2), 0); // 1 Mbit/s: most is far away
    int port = server.port();
    Path mnt = Files.createDirectory(tmp.resolve("mnt"));
    EarlyStart es = mount(options(source(server), tmp.resolve("cache")), mnt);
    server.close();
    EarlyImage mem = es.image(Image.MEMORY);
    List<Long> missing = new ArrayList<>();
    for (long c = (mem.size() - 1) / CS; c >= 0 && missing.size() < 12; c--) {
      if (mem.segmentNeeded(c) >= 0) {
        missing.add(c);
      }
    }
    assertEquals(12, missing.size(), "chunks not arrived");
    ExecutorService readers = Executors.newFixedThreadPool(missing.size() + 1);
    try {
      List<Future<byte[]>> waiting = new ArrayList<>();
      for (long c : missing) {
        waiting.add(readers.submit(() -> read(mnt.resolve("memory.img"), c * CS, CS)));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!es.statusJson().contains("\"waitingNow\": " + missing.size())) {
        assertTrue(System.nanoTime() < deadline, "12 reads never waited at once: " + es.statusJson());
        Thread.sleep(10);
      }
      // the status file is read past the page cache: a request of its own, which needs a 13th worker
      Future<String> status = readers.submit(() -> Files.readString(mnt.resolve("status")));
      assertTrue(status.get(2, TimeUnit.SECONDS).contains("\"waitingNow\": " + missing.size()));
      serve(0, Duration.ZERO, port);
      for (int i = 0; i < missing.size(); i++) {
        int off = (int) (missing.get(i) * CS);
        assertArrayEquals(java.util.Arrays.copyOfRange(memory, off, Math.min(memory.length, off + CS)),
            waiting.get(i).get(20, TimeUnit.SECONDS));
      }
    } finally {
      readers.shutdownNow();
    }
  }

  /** The last chunk of {@code image} whose segment has not arrived. */
  private static long lastMissing(EarlyImage image) {
    for (long c = (image.size() - 1) / CS; c >= 0; c--) {
      if (image.segmentNeeded(c) >= 0) {
        return c;
      }
    }
    throw new AssertionError("every chunk of " + image.fileName() + " has arrived already");
  }

  private static byte[] read(Path file, long off, int len) throws IOException {
    try (FileChannel ch = FileChannel.open(file)) {
      ByteBuffer b = ByteBuffer.allocate((int) Math.min(len, ch.size() - off));
      while (b.hasRemaining() && ch.read(b, off + b.position()) > 0) {
        // read it all
      }
      return b.array();
    }
  }

  private static Process start(Class<?> main, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), main.getName()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
  }

  /** Runs {@code main} in a child JVM and returns its output lines; fails if it fails or takes over 60 s. */
  private static List<String> child(Class<?> main, String... args) throws Exception {
    Process p = start(main, args);
    try {
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), main.getSimpleName() + " did not finish");
      assertEquals(0, p.exitValue(), main.getSimpleName() + " failed");
      return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    } finally {
      p.destroyForcibly();
    }
  }

  private static void awaitLine(Process p, String line, Duration within) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    ExecutorService e = Executors.newSingleThreadExecutor();
    try {
      Future<Boolean> seen = e.submit(() -> {
        for (String l; (l = in.readLine()) != null; ) {
          if (l.equals(line)) {
            return true;
          }
        }
        return false;
      });
      assertTrue(seen.get(within.toMillis(), TimeUnit.MILLISECONDS), "child ended without '" + line + "'");
    } finally {
      e.shutdownNow();
    }
  }
}
