package io.earlystart.fusefs;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.TreeMap;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
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
 * A thin jnr-fuse adapter that shows a fixed set of read-only files, one per {@link ReadableImage},
 * in the root directory of the mount. It only translates: no caching, no policy.
 *
 * <p>Every callback catches {@link Throwable} and returns {@link Errno#of(Throwable)}, because jffi
 * would turn an escaped exception into 0 (end of file, or success).
 *
 * <p>Thread safety: the set of files is fixed at construction; callbacks run concurrently on the
 * FUSE loop's native threads and share no mutable state except one scratch buffer per thread.
 * The images are owned by the caller, who closes them after the file system is unmounted.
 */
public final class ImageFs extends FuseStubFS {

    /** The largest read request the adapter serves in one copy; larger ones are served in parts. */
    static final int SCRATCH_BYTES = 128 * 1024;

    private static final Logger log = LoggerFactory.getLogger(ImageFs.class);
    private static final int O_ACCMODE = 03;
    private static final int O_RDONLY = 0;
    private static final int BLOCK = 4096;

    private final String[] names;
    private final ReadableImage[] images;
    private final Map<String, Integer> indexByPath = new TreeMap<>();
    private final long totalBytes;
    private final ScratchPool scratch = new ScratchPool();

    /** A direct buffer and the jnr {@link Pointer} over it, made once and reused. */
    static final class Scratch {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(SCRATCH_BYTES);
        final Pointer pointer = Pointer.wrap(Runtime.getSystemRuntime(), buffer);
    }

    /**
     * @param files file name (no '/') to image; iteration order is the directory listing order
     */
    public ImageFs(Map<String, ? extends ReadableImage> files) {
        names = new String[files.size()];
        images = new ReadableImage[files.size()];
        long total = 0;
        int i = 0;
        for (Map.Entry<String, ? extends ReadableImage> e : files.entrySet()) {
            String name = e.getKey();
            if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..")) {
                throw new IllegalArgumentException("not a file name: '" + name + "'");
            }
            names[i] = name;
            images[i] = e.getValue();
            indexByPath.put("/" + name, i);
            total += e.getValue().size();
            i++;
        }
        totalBytes = total;
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
            long size = images[i].size();
            stat.st_mode.set(FileStat.S_IFREG | 0444);
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
            if ((fi.flags.get() & O_ACCMODE) != O_RDONLY) {
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
            if (index < 0 || index >= images.length) {
                return -ErrorCodes.EBADF();
            }
            ReadableImage image = images[(int) index];
            long end = image.size();
            if (offset >= end || size <= 0) {
                return 0;
            }
            int want = (int) Math.min(Math.min(size, end - offset), Integer.MAX_VALUE);
            if (log.isTraceEnabled()) {
                log.trace("read {} offset={} size={}", path, offset, size);
            }
            Scratch s = scratch.take();
            try {
                return copy(image, offset, want, buf, s);
            } finally {
                scratch.give(s);
            }
        } catch (Throwable t) {
            return failed("read", path, t);
        }
    }

    /** Reads {@code want} bytes at {@code offset} into the FUSE buffer; -EIO on a short image. */
    private static int copy(ReadableImage image, long offset, int want, Pointer buf, Scratch s)
            throws java.io.IOException {
        int done = 0;
        while (done < want) {
            int part = Math.min(want - done, SCRATCH_BYTES);
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
            stbuf.f_flag.set(Statvfs.ST_RDONLY);
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
        log.debug("{} {} -> {}", op, path, errno, t);
        return errno;
    }
}
