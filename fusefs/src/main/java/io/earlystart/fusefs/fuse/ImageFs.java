package io.earlystart.fusefs.fuse;

import io.earlystart.fusefs.image.DynamicFile;
import io.earlystart.fusefs.image.ReadableFile;
import io.earlystart.fusefs.image.WritableFile;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.Struct;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;

/**
 * A thin jnr-fuse adapter that shows a fixed set of files in the root directory of the mount: one per
 * {@link ReadableFile} (writable when it is a {@link WritableFile}), and small {@link DynamicFile}s
 * made anew at each open. It only translates: no caching, no policy.
 *
 * <p>Every callback catches {@link Throwable} and returns {@link Errno#of(Throwable)}, because jffi
 * would turn an escaped exception into 0 (end of file, or success).
 *
 * <p>Thread safety: the set of files is fixed at construction; callbacks run concurrently on the
 * FUSE loop's threads and share no mutable state except the pool of scratch buffers. The files are
 * owned by the caller, who closes them after the file system is unmounted.
 */
public final class ImageFs extends FuseStubFS {

  private static final Logger LOG = LoggerFactory.getLogger(ImageFs.class);
  private static final int O_ACCMODE = 03;
  private static final int O_RDONLY = 0;
  private static final int BLOCK = 4096;
  /** fallocate modes (linux/falloc.h). */
  private static final int FALLOC_FL_KEEP_SIZE = 0x01;
  private static final int FALLOC_FL_PUNCH_HOLE = 0x02;

  /**
   * Offset of libfuse 2's {@code fuse_file_info} bit field ({@code direct_io:1, keep_cache:1, ...}): the
   * 32 bits just before {@code fh} (x86-64: flags 0, fh_old 8, writepage 16, bits 20, fh 24). jnr-fuse
   * declares those bits as padding, so they are set through the struct's memory.
   */
  private static final int DIRECT_IO_BIT = 1;

  private final String[] names;
  private final ReadableFile[] images;
  private final DynamicFile[] dynamic;
  private final Map<String, Integer> indexByPath = new TreeMap<>();
  private final long totalBytes;
  private final ScratchPool scratch = new ScratchPool();
  /** Open dynamic files: file handle (above the image indexes) to the content seen at open. */
  private final Map<Long, byte[]> snapshots = new ConcurrentHashMap<>();
  private final AtomicLong nextHandle = new AtomicLong(1L << 32);

  /**
   * @param files file name (no '/') to image; iteration order is the directory listing order
   */
  public ImageFs(Map<String, ? extends ReadableFile> files) {
    this(files, Map.of());
  }

  /**
   * @param files file name (no '/') to image; listed first, in iteration order
   * @param dynamicFiles file name to a file made anew at each open; listed after the images
   */
  public ImageFs(Map<String, ? extends ReadableFile> files, Map<String, ? extends DynamicFile> dynamicFiles) {
    int n = files.size() + dynamicFiles.size();
    names = new String[n];
    images = new ReadableFile[n];
    dynamic = new DynamicFile[n];
    long total = 0;
    int i = 0;
    for (Map.Entry<String, ? extends ReadableFile> e : files.entrySet()) {
      name(i, e.getKey());
      images[i] = e.getValue();
      total += e.getValue().size();
      i++;
    }
    for (Map.Entry<String, ? extends DynamicFile> e : dynamicFiles.entrySet()) {
      name(i, e.getKey());
      dynamic[i] = e.getValue();
      i++;
    }
    totalBytes = total;
  }

  private void name(int i, String name) {
    if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..")) {
      throw new IllegalArgumentException("not a file name: '" + name + "'");
    }
    if (indexByPath.putIfAbsent("/" + name, i) != null) {
      throw new IllegalArgumentException("two files called '" + name + "'");
    }
    names[i] = name;
  }

  @Override
  public int getattr(String path, FileStat stat) {
    try {
      if ("/".equals(path)) {
        stat.st_mode.set(FileStat.S_IFDIR | 0555);
        stat.st_nlink.set(2);
        return 0;
      }
      Integer i = indexByPath.get(path);
      if (i == null) {
        return -ErrorCodes.ENOENT();
      }
      if (dynamic[i] != null) {
        // the size is unknown before an open; direct_io reads ignore it
        stat.st_mode.set(FileStat.S_IFREG | 0444);
        stat.st_nlink.set(1);
        stat.st_size.set(0);
        return 0;
      }
      long size = images[i].size();
      stat.st_mode.set(FileStat.S_IFREG | (images[i] instanceof WritableFile ? 0644 : 0444));
      stat.st_nlink.set(1);
      stat.st_size.set(size);
      stat.st_blksize.set(BLOCK);
      stat.st_blocks.set((size + 511) / 512);
      return 0;
    } catch (Throwable t) {
      return failed("getattr", path, t);
    }
  }

  @Override
  public int readdir(String path, Pointer buf, FuseFillDir filter, @off_t long offset,
      FuseFileInfo fi) {
    try {
      if (!"/".equals(path)) {
        return indexByPath.containsKey(path) ? -ErrorCodes.ENOTDIR() : -ErrorCodes.ENOENT();
      }
      filter.apply(buf, ".", null, 0);
      filter.apply(buf, "..", null, 0);
      for (String name : names) {
        filter.apply(buf, name, null, 0);
      }
      return 0;
    } catch (Throwable t) {
      return failed("readdir", path, t);
    }
  }

  @Override
  public int open(String path, FuseFileInfo fi) {
    try {
      Integer i = indexByPath.get(path);
      if (i == null) {
        return "/".equals(path) ? -ErrorCodes.EISDIR() : -ErrorCodes.ENOENT();
      }
      boolean writing = (fi.flags.get() & O_ACCMODE) != O_RDONLY;
      if (dynamic[i] != null) {
        if (writing) {
          return -ErrorCodes.EACCES();
        }
        long h = nextHandle.getAndIncrement();
        snapshots.put(h, dynamic[i].snapshot());
        setDirectIo(fi);
        fi.fh.set(h);
        return 0;
      }
      if (writing && !(images[i] instanceof WritableFile)) {
        return -ErrorCodes.EROFS();
      }
      fi.fh.set(i);
      return 0;
    } catch (Throwable t) {
      return failed("open", path, t);
    }
  }

  @Override
  public int read(String path, Pointer buf, @size_t long size, @off_t long offset,
      FuseFileInfo fi) {
    try {
      long index = fi.fh.get();
      byte[] snap = index >= images.length ? snapshots.get(index) : null;
      if (snap != null) {
        return readSnapshot(snap, buf, size, offset);
      }
      if (index < 0 || index >= images.length || images[(int) index] == null) {
        return -ErrorCodes.EBADF();
      }
      ReadableFile image = images[(int) index];
      long end = image.size();
      if (offset >= end || size <= 0) {
        return 0;
      }
      int want = (int) Math.min(Math.min(size, end - offset), Integer.MAX_VALUE);
      if (LOG.isTraceEnabled()) {
        LOG.trace("read {} offset={} size={}", path, offset, size);
      }
      ScratchPool.Scratch s = scratch.take();
      try {
        return copy(image, offset, want, buf, s);
      } finally {
        scratch.give(s);
      }
    } catch (Throwable t) {
      return failed("read", path, t);
    }
  }

  @Override
  public int write(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
    try {
      WritableFile image = writable(fi);
      if (image == null) {
        return -ErrorCodes.EBADF();
      }
      if (LOG.isTraceEnabled()) {
        LOG.trace("write {} offset={} size={}", path, offset, size);
      }
      ScratchPool.Scratch s = scratch.take();
      try {
        long done = 0;
        while (done < size) {
          int part = (int) Math.min(size - done, ScratchPool.SCRATCH_BYTES);
          buf.transferTo(done, s.pointer, 0, part);
          s.buffer.clear().limit(part);
          image.write(offset + done, s.buffer);
          done += part;
        }
        return (int) done;
      } finally {
        scratch.give(s);
      }
    } catch (Throwable t) {
      return failed("write", path, t);
    }
  }

  /**
   * {@code fallocate(PUNCH_HOLE|KEEP_SIZE)} discards a range (a guest's trim through QEMU's
   * {@code discard=unmap}, or free pages QEMU punches out of guest RAM): {@link WritableFile#discard}.
   * Any other mode is {@code EOPNOTSUPP}, a range outside the image {@code EINVAL}, and neither changes
   * anything. Never {@code ENOSYS}: the kernel would then refuse fallocate on the whole mount.
   */
  @Override
  public int fallocate(String path, int mode, @off_t long offset, @off_t long length, FuseFileInfo fi) {
    try {
      WritableFile image = writable(fi);
      if (image == null) {
        return -ErrorCodes.EBADF();
      }
      if (mode != (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) {
        return -ErrorCodes.EOPNOTSUPP();
      }
      if (offset < 0 || length <= 0 || offset > image.size() - length) {
        return -ErrorCodes.EINVAL();
      }
      if (LOG.isTraceEnabled()) {
        LOG.trace("discard {} offset={} length={}", path, offset, length);
      }
      image.discard(offset, length);
      return 0;
    } catch (Throwable t) {
      return failed("fallocate", path, t);
    }
  }

  /** The writable image {@code fi} was opened on, or null (not an image, or one that takes no writes). */
  private WritableFile writable(FuseFileInfo fi) {
    long index = fi.fh.get();
    return index >= 0 && index < images.length && images[(int) index] instanceof WritableFile w ? w : null;
  }

  @Override
  public int fsync(String path, int isdatasync, FuseFileInfo fi) {
    try {
      WritableFile w = writable(fi);
      if (w != null) {
        w.sync();
      }
      return 0;
    } catch (Throwable t) {
      return failed("fsync", path, t);
    }
  }

  @Override
  public int flush(String path, FuseFileInfo fi) {
    return 0; // writes reach the cache file at once; durability is fsync's
  }

  @Override
  public int release(String path, FuseFileInfo fi) {
    try {
      snapshots.remove(fi.fh.get());
      return 0;
    } catch (Throwable t) {
      return failed("release", path, t);
    }
  }

  @Override
  public int truncate(String path, @off_t long size) {
    try {
      Integer i = indexByPath.get(path);
      if (i == null) {
        return -ErrorCodes.ENOENT();
      }
      // the images have a fixed size: "truncating" to it (as QEMU may) is fine, anything else is not
      return images[i] != null && images[i].size() == size ? 0 : -ErrorCodes.EPERM();
    } catch (Throwable t) {
      return failed("truncate", path, t);
    }
  }

  @Override
  public int ftruncate(String path, @off_t long size, FuseFileInfo fi) {
    return truncate(path, size);
  }

  private static int readSnapshot(byte[] snap, Pointer buf, long size, long offset) {
    if (offset >= snap.length) {
      return 0;
    }
    int n = (int) Math.min(size, snap.length - offset);
    buf.put(0, snap, (int) offset, n);
    return n;
  }

  /** Sets {@code direct_io} in libfuse 2's {@code fuse_file_info} (see {@link #DIRECT_IO_BIT}). */
  private static void setDirectIo(FuseFileInfo fi) {
    long bits = fi.fh.offset() - 4;
    Pointer p = Struct.getMemory(fi);
    p.putInt(bits, p.getInt(bits) | DIRECT_IO_BIT);
  }

  /** Reads {@code want} bytes at {@code offset} into the FUSE buffer; -EIO on a short image. */
  private static int copy(ReadableFile image, long offset, int want, Pointer buf, ScratchPool.Scratch s)
      throws java.io.IOException {
    int done = 0;
    while (done < want) {
      int part = Math.min(want - done, ScratchPool.SCRATCH_BYTES);
      ByteBuffer dst = s.buffer;
      dst.clear().limit(part);
      while (dst.hasRemaining()) {
        int n = image.read(offset + done + dst.position(), dst);
        if (n <= 0) {
          // ends before its own size() (or broke the contract): truncated, not EOF
          return -ErrorCodes.EIO();
        }
      }
      buf.transferFrom(done, s.pointer, 0, part);
      done += part;
    }
    return done;
  }

  @Override
  public int statfs(String path, Statvfs stbuf) {
    try {
      stbuf.f_bsize.set(BLOCK);
      stbuf.f_frsize.set(BLOCK);
      stbuf.f_blocks.set((totalBytes + BLOCK - 1) / BLOCK);
      stbuf.f_bfree.set(0);
      stbuf.f_bavail.set(0);
      stbuf.f_files.set(names.length + 1);
      stbuf.f_ffree.set(0);
      stbuf.f_favail.set(0);
      stbuf.f_namemax.set(255);
      return 0;
    } catch (Throwable t) {
      return failed("statfs", path, t);
    }
  }

  @Override
  protected String getFSName() {
    return "earlystart";
  }

  private static int failed(String op, String path, Throwable t) {
    int errno = Errno.of(t);
    LOG.debug("{} {} -> {}", op, path, errno, t);
    return errno;
  }

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
  static final class ScratchPool {
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
}
