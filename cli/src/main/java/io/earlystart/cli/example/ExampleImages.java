package io.earlystart.cli.example;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Deterministic generator of a realistic base / customised VM pair: real ext4 disks (built with
 * e2fsprogs, never mounted), page-structured memory images, a pseudo device-state stream and a
 * machine description. The customised VM is the base plus an "installed application", so an
 * overlay of it exercises every path: unchanged chunks, zero chunks, chunks equal to another
 * base chunk, self-duplicates, small edits (delta) and new data.
 *
 * <p>Needs {@code mke2fs}, {@code debugfs} and {@code dumpe2fs} (e2fsprogs) on PATH, /usr/sbin
 * or /sbin. Same {@link Spec} (and same e2fsprogs build) gives byte-identical files.
 */
public final class ExampleImages {

  public static final String BASE_DISK = "base-disk.img";
  public static final String BASE_MEMORY = "base-memory.img";
  public static final String DISK = "disk.img";
  public static final String MEMORY = "memory.img";
  public static final String VMSTATE = "vmstate";
  public static final String VM_CONFIG = "vm.json";

  public static final long MIN_DISK_SIZE = 16L << 20;
  public static final long MIN_MEMORY_SIZE = 4L << 20;

  private static final String WORK_DIR = ".tree-tmp";

  /** What to generate: the seed and the exact image sizes in bytes. */
  public record Spec(long seed, long diskSize, long memorySize) {
    public Spec {
      check("disk size", diskSize, MIN_DISK_SIZE);
      check("memory size", memorySize, MIN_MEMORY_SIZE);
    }

    private static void check(String what, long size, long min) {
      if (size < min) {
        throw new IllegalArgumentException(what + " " + size + " bytes is below the minimum of "
            + (min >> 20) + " MiB");
      }
      if (size % 4096 != 0) {
        throw new IllegalArgumentException(what + " " + size + " bytes is not a multiple of 4096");
      }
      if (size / 4096 > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(what + " " + size + " bytes is too large");
      }
    }
  }

  /** The written files. */
  public record Result(Path baseDisk, Path baseMemory, Path disk, Path memory, Path vmstate, Path vmConfig) {
  }

  private ExampleImages() {
  }

  /**
   * Writes base-disk.img, base-memory.img, disk.img, memory.img, vmstate, vm.json into dir
   * (created if missing). Deterministic for a given spec.
   */
  public static Result generate(Path where, Spec spec) throws IOException, InterruptedException {
    Path dir = where.toAbsolutePath(); // e2fsprogs run in other working directories
    Files.createDirectories(dir);
    Result res = new Result(dir.resolve(BASE_DISK), dir.resolve(BASE_MEMORY), dir.resolve(DISK),
        dir.resolve(MEMORY), dir.resolve(VMSTATE), dir.resolve(VM_CONFIG));
    // fail fast, before minutes of work, when e2fsprogs is missing
    E2fsTools.require("mke2fs");
    E2fsTools.require("debugfs");
    E2fsTools.require("dumpe2fs");
    Path work = dir.resolve(WORK_DIR);
    deleteRecursively(work);
    Files.createDirectories(work);
    try {
      DiskBuilder disks = new DiskBuilder(work, spec.seed(), spec.diskSize());
      disks.buildBase(res.baseDisk());
      disks.customise(res.baseDisk(), res.disk());
      deleteRecursively(work); // the host tree is no longer needed: free the space early

      DiskScan scan = DiskScan.scan(res.baseDisk(), res.disk());
      MemoryBuilder memory = new MemoryBuilder(spec.seed(), spec.memorySize(), scan);
      memory.writeBase(res.baseMemory(), res.baseDisk());
      memory.writeCustom(res.memory(), res.baseMemory(), res.baseDisk(), res.disk());

      VmState.write(res.vmstate(), spec.seed());
      VmState.writeConfig(res.vmConfig(), spec.memorySize(), spec.diskSize());
    } finally {
      deleteRecursively(work);
    }
    return res;
  }

  /** Deletes a file or a directory tree, not following links; nothing if it does not exist. */
  public static void deleteRecursively(Path p) throws IOException {
    if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Files.walkFileTree(p, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
        if (e != null) {
          throw e;
        }
        Files.delete(d);
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
