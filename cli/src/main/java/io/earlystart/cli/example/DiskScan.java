package io.earlystart.cli.example;

import static io.earlystart.cli.example.Sparse.PAGE;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * One pass over base and customised disk: the non-zero blocks of the base disk, and the non-zero
 * blocks of the customised disk that differ from the base (what a page cache holds after the
 * application was installed and run).
 */
record DiskScan(int[] baseNonZero, int[] changedNonZero) {

  static DiskScan scan(Path baseDisk, Path disk) throws IOException {
    long size = Files.size(baseDisk);
    if (Files.size(disk) != size) {
      throw new IOException("disk images differ in size");
    }
    IntList base = new IntList();
    IntList changed = new IntList();
    byte[] a = new byte[Sparse.WINDOW];
    byte[] b = new byte[Sparse.WINDOW];
    try (FileChannel ca = FileChannel.open(baseDisk, StandardOpenOption.READ);
      FileChannel cb = FileChannel.open(disk, StandardOpenOption.READ)) {
      for (long pos = 0; pos < size; pos += Sparse.WINDOW) {
        int n = (int) Math.min(Sparse.WINDOW, size - pos) / PAGE * PAGE;
        Sparse.readFully(ca, pos, a, 0, n);
        Sparse.readFully(cb, pos, b, 0, n);
        for (int off = 0; off < n; off += PAGE) {
          int block = (int) ((pos + off) / PAGE);
          if (!Sparse.isZeroPage(a, off)) {
            base.add(block);
          }
          if (!Sparse.isZeroPage(b, off) && !Arrays.equals(a, off, off + PAGE, b, off, off + PAGE)) {
            changed.add(block);
          }
        }
      }
    }
    if (base.size == 0 || changed.size == 0) {
      throw new IOException("unexpected disk images: " + base.size + " non-zero base blocks, "
          + changed.size + " changed blocks");
    }
    return new DiskScan(base.toArray(), changed.toArray());
  }

  private static final class IntList {
    int[] a = new int[1024];
    int size;

    void add(int v) {
      if (size == a.length) {
        a = Arrays.copyOf(a, size * 2);
      }
      a[size++] = v;
    }

    int[] toArray() {
      return Arrays.copyOf(a, size);
    }
  }
}
