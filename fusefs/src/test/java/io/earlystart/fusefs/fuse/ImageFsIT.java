package io.earlystart.fusefs.fuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.earlystart.fusefs.FuseRequirement;
import io.earlystart.fusefs.MmapProbe;
import io.earlystart.fusefs.image.BytesFile;
import io.earlystart.fusefs.image.ReadableFile;
import java.io.IOException;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A real FUSE mount of {@link ImageFs} in a temporary directory, read through the kernel. */
@Timeout(20)
class ImageFsIT {

  private static final Logger LOG = LoggerFactory.getLogger(ImageFsIT.class);
  private static final int MIB = 1024 * 1024;
  private static final long SEED = 0x5EED_F05EL;

  private static final byte[] DISK = randomBytes(8 * MIB, SEED);
  private static final byte[] TEXT =
      "{\"ram\":\"256M\",\"machine\":\"pc\"}\n".getBytes(StandardCharsets.UTF_8);

  @TempDir Path tmp;
  private Path mnt;
  private RecordingImage disk;
  private FuseMount mount;

  @BeforeAll
  static void fuseAvailable() {
    FuseRequirement.check();
  }

  @BeforeEach
  void mount() throws IOException {
    mnt = Files.createDirectory(tmp.resolve("mnt"));
    disk = new RecordingImage(new BytesFile(DISK));
    Map<String, ReadableFile> files = new LinkedHashMap<>();
    files.put("disk.img", disk);
    files.put("vm.json", new BytesFile(TEXT));
    files.put("broken.img", sized(MIB, (offset, dst) -> {
      throw new IOException("injected: corrupt segment at offset " + offset);
    }));
    files.put("short.img", sized(MIB, new BytesFile(TEXT)::read));
    mount = FuseMount.mount(new ImageFs(files), mnt, MountOptions.DEFAULTS, Duration.ofSeconds(5));
  }

  @AfterEach
  void unmount() throws IOException {
    try {
      mount.close();
    } finally {
      assertFalse(MountTable.isMounted(mnt), "mountinfo still lists " + mnt);
      String procMounts = Files.readString(Path.of("/proc/mounts"));
      assertFalse(procMounts.contains(" " + mnt + " "), "/proc/mounts still lists " + mnt);
    }
  }

  @Test
  void listsAndStatsTheFiles() throws IOException {
    try (Stream<Path> s = Files.list(mnt)) {
      Set<String> names = s.map(p -> p.getFileName().toString())
          .collect(Collectors.toCollection(TreeSet::new));
      assertEquals(new TreeSet<>(List.of("broken.img", "disk.img", "short.img", "vm.json")), names);
    }
    assertEquals(DISK.length, Files.size(mnt.resolve("disk.img")));
    assertEquals(TEXT.length, Files.size(mnt.resolve("vm.json")));
    assertFalse(Files.exists(mnt.resolve("nope")));
    assertThrows(IOException.class,
        () -> FileChannel.open(mnt.resolve("disk.img"), StandardOpenOption.WRITE).close());
  }

  @Test
  void readsBackAtRandomOffsets() throws IOException {
    assertArrayEquals(TEXT, Files.readAllBytes(mnt.resolve("vm.json")));
    Random random = new Random(SEED);
    try (FileChannel ch = FileChannel.open(mnt.resolve("disk.img"))) {
      for (int size : new int[] {4096, 128 * 1024}) {
        ByteBuffer buf = ByteBuffer.allocate(size);
        for (int i = 0; i < 100; i++) {
          long offset = (long) (random.nextDouble() * (DISK.length - size));
          readFully(ch, buf.clear(), offset);
          assertArrayEquals(slice(offset, size), buf.array(), "at " + offset + "+" + size);
        }
      }
      // across the end of the file: a short read, then EOF
      ByteBuffer tail = ByteBuffer.allocate(8192);
      assertEquals(4096, ch.read(tail, DISK.length - 4096));
      assertEquals(-1, ch.read(tail.clear(), DISK.length));
    }
    assertTrue(disk.requests.stream().allMatch(r -> r[1] <= 128 * 1024),
        "a read request above max_read: " + disk.sizes());
  }

  @Test
  void concurrentReadersAreServedInParallel() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try (FileChannel ch = FileChannel.open(mnt.resolve("disk.img"))) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        long base = (long) t * 2 * MIB;
        done.add(pool.submit(() -> {
          ByteBuffer buf = ByteBuffer.allocate(256 * 1024);
          for (long off = base; off < base + 2 * MIB; off += buf.capacity()) {
            readFully(ch, buf.clear(), off);
            assertArrayEquals(slice(off, buf.capacity()), buf.array(), "at " + off);
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    LOG.info("4 parallel readers: {} reads served on {} native threads (tids {}) seen as {} Java threads",
        disk.requests.size(), disk.nativeThreads.size(), new TreeSet<>(disk.nativeThreads),
        disk.threads.size());
  }

  @Test
  void failingImageGivesEioNotEof() throws IOException {
    try (FileChannel ch = FileChannel.open(mnt.resolve("broken.img"))) {
      IOException e = assertThrows(IOException.class, () -> ch.read(ByteBuffer.allocate(4096), 0));
      assertTrue(e.getMessage().contains("Input/output error"), e.getMessage());
    }
    assertThrows(IOException.class, () -> Files.readAllBytes(mnt.resolve("broken.img")));
    // an image that ends before its own size(): EIO as well, never a short read or EOF
    try (FileChannel ch = FileChannel.open(mnt.resolve("short.img"))) {
      assertThrows(IOException.class, () -> ch.read(ByteBuffer.allocate(4096), 64 * 1024));
    }
  }

  @Test
  void sequentialOneMibReadRequestSizes() throws IOException {
    try (FileChannel ch = FileChannel.open(mnt.resolve("disk.img"))) {
      ByteBuffer buf = ByteBuffer.allocateDirect(MIB);
      readFully(ch, buf, 0);
      byte[] got = new byte[MIB];
      buf.flip().get(got);
      assertArrayEquals(slice(0, MIB), got);
    }
    LOG.info("sequential 1 MiB read at 0: kernel sent {} reads: {}", disk.requests.size(), disk.sizes());
    assertTrue(disk.requests.stream().allMatch(r -> r[1] <= 128 * 1024), disk.sizes());
  }

  @Test
  void mmapInAnotherProcessReadsCorrectlyAndPageFaultRequestSizes() throws Exception {
    Path file = mnt.resolve("disk.img");
    int offset = 5 * MIB + 12288;
    // one byte at 5 MiB + 12 KiB: a single page fault into a cold file
    assertEquals(Integer.toString(DISK[offset] & 0xff), runProbe(file, "byte", Integer.toString(offset)));
    LOG.info("mmap fault at 5 MiB+12K: kernel sent {} reads: {}", disk.requests.size(), disk.sizes());
    disk.requests.clear();
    String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(DISK));
    assertEquals(expected, runProbe(file, "sha256"));
    LOG.info("mmap of the whole 8 MiB (after the fault above): kernel sent {} reads, size->count {}",
        disk.requests.size(), disk.sizeHistogram());
  }

  /**
   * Runs {@link MmapProbe} in a child JVM: a JVM must not take page faults on its own FUSE mount.
   */
  private static String runProbe(Path file, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xshare:auto", "-XX:TieredStopAtLevel=1",
        "-cp", System.getProperty("java.class.path"),
        MmapProbe.class.getName(), file.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      if (!p.waitFor(15, TimeUnit.SECONDS)) {
        fail("MmapProbe did not finish in 15 s: " + cmd);
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      assertEquals(0, p.exitValue(), "MmapProbe exit code, output: " + out);
      return out;
    } finally {
      p.destroyForcibly();
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long offset) throws IOException {
    long pos = offset;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new IOException("unexpected EOF at " + pos);
      }
      pos += n;
    }
  }

  private static byte[] slice(long offset, int size) {
    byte[] b = new byte[size];
    System.arraycopy(DISK, (int) offset, b, 0, size);
    return b;
  }

  private static byte[] randomBytes(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** How a {@link #sized} file reads. */
  @FunctionalInterface
  interface Reads {
    int read(long offset, ByteBuffer dst) throws IOException;
  }

  /**
   * Fault injection: a file that claims {@code size} bytes and reads with {@code reads}: one that always
   * fails (like a corrupt segment), or one whose source ends earlier (returns -1).
   */
  static ReadableFile sized(long size, Reads reads) {
    return new ReadableFile() {
      @Override
      public long size() {
        return size;
      }

      @Override
      public int read(long offset, ByteBuffer dst) throws IOException {
        return reads.read(offset, dst);
      }
    };
  }

  /** Records the (offset, length) of every read the file system passes down. */
  static final class RecordingImage implements ReadableFile {
    final ConcurrentLinkedQueue<long[]> requests = new ConcurrentLinkedQueue<>();
    final Set<String> threads = ConcurrentHashMap.newKeySet();
    final Set<String> nativeThreads = ConcurrentHashMap.newKeySet();
    private final ReadableFile delegate;

    RecordingImage(ReadableFile delegate) {
      this.delegate = delegate;
    }

    @Override
    public long size() {
      return delegate.size();
    }

    @Override
    public int read(long offset, ByteBuffer dst) throws IOException {
      requests.add(new long[] {offset, dst.remaining()});
      threads.add(Thread.currentThread().getName());
      nativeThreads.add(Files.readString(Path.of("/proc/thread-self/stat")).split(" ")[0]);
      return delegate.read(offset, dst);
    }

    String sizes() {
      return requests.stream().map(r -> r[0] / 1024 + "K+" + r[1] / 1024 + "K")
          .collect(Collectors.joining(" "));
    }

    Map<Long, Long> sizeHistogram() {
      return requests.stream().collect(Collectors.groupingBy(
          r -> r[1], java.util.TreeMap::new, Collectors.counting()));
    }
  }
}
