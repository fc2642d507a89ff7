package io.earlystart.bench;

import io.earlystart.fusefs.EarlyStart;
import io.earlystart.fusefs.fuse.MountOptions;
import io.earlystart.fusefs.fuse.MountTable;
import io.earlystart.ordering.Trace;
import io.earlystart.overlay.format.ChunkKind;
import io.earlystart.overlay.format.ChunkTable;
import io.earlystart.overlay.format.Image;
import io.earlystart.overlay.format.Manifest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

/**
 * The scripted first-response workload on the example VM ({@code earlystart example-images}) and the
 * recording of its access trace. <b>A stand-in</b>: no guest runs; until issue 5 records a real QEMU
 * trace, this script reads what a resumed VM would plausibly read to answer its first request to the
 * example "application" ({@code /opt/app}, installed by the generator into the customised disk):
 *
 * <ol>
 *   <li>the application's anonymous state in RAM: one in {@value #STATE_SHARE} of the memory pages that
 *       the overlay carries as new data that is no copy of any disk block, or as a delta of the base
 *       page (the generator's heap edits, new random pages and duplicated heap pages), chosen and
 *       ordered by a fixed hash of the page number, since a process's pages lie scattered over
 *       physical memory; read from {@code memory.img} 4 KiB at a time;
 *   <li>the page-cache copies, in {@code memory.img}, of the files of step 3: every memory page that
 *       shares its overlay payload with one of those files' disk blocks (the generator fills the
 *       customised page cache with copies of changed disk blocks), 4 KiB at a time, in page order;
 *   <li>the server's code and configuration from the customised ext4 disk: {@link #FIRST_FILES}, about
 *       a tenth of the application's bytes (10.3 % at 64 MiB; the model file alone is about 35 %, too
 *       much for "a tenth"), read by {@code debugfs -c -R "cat PATH" MNT/disk.img}, one child process
 *       per file, which walks the ext4 structures (superblock, group descriptors, inode table,
 *       directories, extent tree) through the mount exactly as a guest's file system driver would;
 *   <li>then the mark {@value FirstResponseReplay#MARK};
 *   <li>after it, more work that must not count: {@link #LATER_FILES} through debugfs and the next
 *       tenth of the state pages.
 * </ol>
 *
 * The trace is recorded by mounting the overlay from the <em>local file</em> (no network) with a
 * first-touch trace, as {@code earlystart mount --trace-out} does. It records what the FUSE file
 * system saw, so it includes the kernel's readahead around each read (both for debugfs and for the
 * 4 KiB memory reads), as it would for QEMU. The JVM reads its own mount only with
 * {@link FileChannel} reads, never {@code mmap}.
 *
 * <p>Stateless; the trace file is written once (to a temporary name, renamed when complete) and
 * reused while it matches the overlay's id. Not safe for two runs at once on one directory.
 */
final class FirstResponseWorkload {
  /** Bump when the script changes: the trace file name carries it, so an old trace is not reused. */
  static final int VERSION = 1;
  static final String[] FIRST_FILES = {"/etc/passwd", "/etc/app/app.conf", "/opt/app/bin/appd"};
  static final String[] LATER_FILES = {"/opt/app/share/doc/doc0.txt"};
  static final int STATE_SHARE = 10;
  /** Where the generator installs the application (DiskBuilder.APP_DIRS): for the "share of app bytes". */
  private static final String[] APP_DIRS = {"/opt/app/bin", "/opt/app/lib", "/opt/app/models",
    "/opt/app/share/doc", "/opt/app/vendor", "/etc/app"};
  private static final long HASH_SEED = 0x46525354L; // "FRST"
  private static final Duration DISK_WAIT = Duration.ofSeconds(30);
  private static final Duration MEMORY_WAIT = Duration.ofMinutes(2);

  private FirstResponseWorkload() {}

  /** The pages and files of the script, before and after the mark. */
  record Plan(int[] statePages, int[] cachePages, int[] laterStatePages, long[] firstSizes, long[] laterSizes,
      long appBytes) {
    long firstFileBytes() {
      return Arrays.stream(firstSizes).sum();
    }
  }

  /** The trace file for this workload version in {@code dir}. */
  static Path traceFile(Path dir) {
    return dir.resolve("first-response-v" + VERSION + ".trace");
  }

  /**
   * The trace of the workload against {@code overlay} (id {@code overlayId}): read from {@code file}
   * when it is there, belongs to this overlay and has the mark; recorded otherwise ({@code runDir}
   * holds the recording's cache directory and mount point).
   */
  static Trace ensureTrace(ExampleWorkload work, Path overlay, String overlayId, Manifest m, Path file, Path runDir)
      throws IOException, InterruptedException {
    if (Files.isRegularFile(file)) {
      try {
        Trace t = Trace.read(file);
        if (t.overlayId().equals(overlayId) && t.mark(FirstResponseReplay.MARK) >= 0) {
          ExampleWorkload.log("reusing the first-response trace " + file);
          return t;
        }
        ExampleWorkload.log("the trace " + file + " belongs to another overlay or has no mark: recording again");
      } catch (IOException e) {
        ExampleWorkload.log("unreadable trace " + file + " (" + e.getMessage() + "): recording again");
      }
    }
    record(work, overlay, m, file, runDir);
    return Trace.read(file);
  }

  /** Mounts {@code overlay} from the local file, runs the script, writes {@code file}. */
  static void record(ExampleWorkload work, Path overlay, Manifest m, Path file, Path runDir)
      throws IOException, InterruptedException {
    Plan plan = plan(work.files.disk(), m);
    ExampleWorkload.log(String.format(Locale.ROOT,
        "recording the first-response trace: %d state pages, %d page-cache pages, files %s (%d bytes, %.1f %% of"
            + " the application's %d bytes)",
        plan.statePages().length, plan.cachePages().length, String.join(" ", FIRST_FILES), plan.firstFileBytes(),
        100.0 * plan.firstFileBytes() / plan.appBytes(), plan.appBytes()));
    Path recording = file.resolveSibling(file.getFileName() + ".recording");
    Files.deleteIfExists(recording);
    Path cache = ExampleWorkload.freshDir(runDir.resolve("record-cache"));
    Path mnt = Files.createDirectories(runDir.resolve("record-mnt"));
    removeStaleMount(mnt);
    long t0 = System.nanoTime();
    try {
      EarlyStart.Options options = EarlyStart.Options.of(work.files.baseDisk(), work.files.baseMemory(),
          overlay.toString(), cache).withWaits(DISK_WAIT, MEMORY_WAIT).withTrace(recording);
      try (EarlyStart es = EarlyStart.open(options)) {
        Path mp = es.mount(mnt, mountOptions());
        Path disk = mp.resolve(Image.DISK.fileName);
        Path memory = mp.resolve(Image.MEMORY.fileName);
        readPages(memory, plan.statePages());
        readPages(memory, plan.cachePages());
        readFiles(disk, FIRST_FILES, plan.firstSizes(), runDir);
        es.mark(FirstResponseReplay.MARK);
        readFiles(disk, LATER_FILES, plan.laterSizes(), runDir);
        readPages(memory, plan.laterStatePages());
      }
    } finally {
      ExampleWorkload.deleteRecursively(cache);
    }
    Files.move(recording, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    ExampleWorkload.log(String.format(Locale.ROOT, "recorded %s in %.1f s", file, (System.nanoTime() - t0) / 1e9));
  }

  /** The mount options of {@code earlystart mount}: defaults plus the write options. */
  static List<String> mountOptions() {
    return MountOptions.writable(List.of());
  }

  /**
   * Chooses the pages from the overlay's memory table and the blocks of {@link #FIRST_FILES} in the
   * local customised disk (found with {@code debugfs blocks}).
   */
  static Plan plan(Path disk, Manifest m) throws IOException, InterruptedException {
    ChunkTable dt = m.table(Image.DISK);
    ChunkTable mt = m.table(Image.MEMORY);
    BitSet diskPayloads = new BitSet();
    for (int i = 0; i < dt.size(); i++) {
      if (dt.kind(i).hasPayload()) {
        diskPayloads.set(dt.arg(i));
      }
    }
    BitSet filePayloads = new BitSet();
    for (String f : FIRST_FILES) {
      for (long block : FirstResponseDebugfs.blocks(disk, f)) {
        int e = dt.find((int) block);
        if (e >= 0 && dt.kind(e) == ChunkKind.DATA) {
          filePayloads.set(dt.arg(e));
        }
      }
    }
    List<long[]> state = new ArrayList<>(); // {hash, page}
    List<Integer> cache = new ArrayList<>();
    for (int i = 0; i < mt.size(); i++) {
      ChunkKind k = mt.kind(i);
      int page = mt.chunk(i);
      if (k == ChunkKind.DATA && filePayloads.get(mt.arg(i))) {
        cache.add(page);
      } else if (k == ChunkKind.DELTA || (k == ChunkKind.DATA && !diskPayloads.get(mt.arg(i)))) {
        state.add(new long[] {mix(page), page});
      }
    }
    state.sort((a, b) -> Long.compareUnsigned(a[0], b[0]));
    List<Integer> first = new ArrayList<>();
    List<Integer> later = new ArrayList<>();
    for (long[] s : state) {
      long bucket = Long.remainderUnsigned(s[0] >>> 16, STATE_SHARE);
      if (bucket == 0) {
        first.add((int) s[1]);
      } else if (bucket == 1) {
        later.add((int) s[1]);
      }
    }
    long appBytes = 0;
    for (String dir : APP_DIRS) {
      appBytes += FirstResponseDebugfs.dirBytes(disk, dir);
    }
    return new Plan(ints(first), ints(cache), ints(later), sizes(disk, FIRST_FILES), sizes(disk, LATER_FILES),
        appBytes);
  }

  private static long[] sizes(Path disk, String[] files) throws IOException, InterruptedException {
    long[] s = new long[files.length];
    for (int i = 0; i < files.length; i++) {
      s[i] = FirstResponseDebugfs.fileSize(disk, files[i]);
    }
    return s;
  }

  private static long mix(long page) {
    long z = (page + HASH_SEED) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
    z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
    return z ^ (z >>> 33);
  }

  private static int[] ints(List<Integer> l) {
    return l.stream().mapToInt(Integer::intValue).toArray();
  }

  /** Reads each page (4 KiB at {@code page * 4096}) of {@code image} with positional reads. */
  private static void readPages(Path image, int[] pages) throws IOException {
    ByteBuffer buf = ByteBuffer.allocateDirect(Manifest.CHUNK_SIZE);
    try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
      for (int p : pages) {
        buf.clear();
        long pos = (long) p * Manifest.CHUNK_SIZE;
        while (buf.hasRemaining()) {
          if (ch.read(buf, pos + buf.position()) < 0) {
            throw new IOException("end of " + image + " at " + (pos + buf.position()));
          }
        }
      }
    }
  }

  /**
   * {@code debugfs -c -R "cat PATH" IMAGE > FILE}, one child process per file (as one program start
   * each); fails unless it wrote exactly the file's size, which {@code sizes} says (from the local
   * image, so that checking adds no read of the mount), and stderr holds only debugfs's banner.
   */
  private static void readFiles(Path image, String[] files, long[] sizes, Path runDir)
      throws IOException, InterruptedException {
    Path out = runDir.resolve("debugfs.out");
    try {
      for (int i = 0; i < files.length; i++) {
        String err = FirstResponseDebugfs.run(image, out, "-R", "cat " + files[i]);
        if (Files.size(out) != sizes[i] || !err.isBlank()) {
          throw new IOException("debugfs read " + Files.size(out) + " bytes of " + files[i] + " from " + image
              + ", expected " + sizes[i] + "; stderr: " + err);
        }
      }
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /**
   * Removes a mount an earlier run left at {@code mountPoint} (its JVM was killed). Such a JVM may
   * hang in the kernel at exit, waiting for its own dead FUSE threads to answer the close of a file of
   * its mount; {@link MountTable#cleanStale} aborts the FUSE connection, which frees it, and detaches the
   * mount.
   */
  static void removeStaleMount(Path mountPoint) throws IOException {
    if (MountTable.isMounted(mountPoint)) {
      ExampleWorkload.log("a stale mount is left at " + mountPoint + " (killed run?): aborting and unmounting it");
      MountTable.cleanStale(mountPoint);
    }
  }
}
