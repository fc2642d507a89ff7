package io.earlystart.fusefs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ru.serce.jnrfuse.AbstractFuseFS;

/**
 * One live FUSE mount: mounts and runs the request loop ({@link FuseLoop}: libfuse's, with Java worker
 * threads) from a dedicated daemon thread, checks readiness itself, and unmounts in {@link #close()}.
 *
 * <p>Why not jnr-fuse's non-blocking mount: {@code AbstractFuseFS.mount(path, false, ...)} always
 * waits 2 s for {@code fuse_main_real} to return (it returns only at unmount or on failure) and treats
 * that timeout as success. So it costs a fixed 2 s per mount and still proves nothing. Our own thread
 * costs ~20 ms, and a loop that ends early (bad option, no /dev/fuse) is seen at once. A mount is ready when {@code /proc/self/mountinfo} lists the mount point with a
 * {@code fuse.*} type <em>and</em> a {@code stat} of the mount point (answered by our
 * {@code getattr}) shows a device other than its parent's.
 *
 * <p>Default options ({@link #DEFAULT_OPTIONS}), chosen for QEMU on libfuse 2.9 (see
 * native-notes/FUSE.md): {@code kernel_cache}, {@code max_read=131072}, {@code auto_unmount}
 * (a killed JVM leaves no stale mount), long attribute/entry timeouts. Not {@code ro}: read-only is
 * enforced by {@link ImageFs#open} so that the later write path needs no option change. Never {@code direct_io}: it makes {@code mmap(MAP_SHARED)} fail with
 * ENODEV, which breaks {@code memory-backend-file,share=on}.
 *
 * <p>One owner mounts; {@link #close()} is idempotent and may also be called from a shutdown hook
 * (it is synchronized).
 */
public final class Mounts implements AutoCloseable {

    /** Mount options for a read-only image file system under libfuse 2.9. */
    public static final List<String> DEFAULT_OPTIONS = List.of(
            "kernel_cache", "max_read=131072", "auto_unmount",
            "entry_timeout=3600", "attr_timeout=3600", "negative_timeout=3600");

    /**
     * Added for images the guest writes: without them libfuse 2 splits writes into 4 KiB requests
     * (QEMU's {@code share=on} RAM write-back and disk writes come in larger pieces).
     */
    public static final List<String> WRITE_OPTIONS = List.of("big_writes", "max_write=131072");

    /** {@link #DEFAULT_OPTIONS}, {@link #WRITE_OPTIONS}, then {@code extra}: the options of an early-start mount. */
    public static List<String> writableOptions(List<String> extra) {
        List<String> all = new java.util.ArrayList<>(DEFAULT_OPTIONS);
        all.addAll(WRITE_OPTIONS);
        all.addAll(extra);
        return List.copyOf(all);
    }

    private static final Logger log = LoggerFactory.getLogger(Mounts.class);
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");
    private static final long POLL_MILLIS = 10;
    /**
     * {@code -Dearlystart.fuse.loop=libfuse}: jnr-fuse's {@code fuse_main} and libfuse's native worker
     * threads instead of {@link FuseLoop} (for comparison; every request then attaches a thread to the JVM).
     */
    static final boolean LIBFUSE_LOOP = "libfuse".equals(System.getProperty("earlystart.fuse.loop"));

    private final AbstractFuseFS fs;
    private final Path mountPoint;
    /** Completes when the loop has ended (and been torn down): normally after unmount, early on failure. */
    private final CompletableFuture<Void> loopExit = new CompletableFuture<>();
    /** Our loop once libfuse has mounted ({@link FuseLoop}); null with {@link #LIBFUSE_LOOP}. */
    private volatile FuseLoop loop;
    private final Duration unmountDeadline;
    private boolean closed;

    private Mounts(AbstractFuseFS fs, Path mountPoint, Duration unmountDeadline) {
        this.fs = fs;
        this.mountPoint = mountPoint;
        this.unmountDeadline = unmountDeadline;
    }

    /** {@link #mount(AbstractFuseFS, Path, List, Duration)} with {@link #DEFAULT_OPTIONS}. */
    public static Mounts mount(AbstractFuseFS fs, Path mountPoint, Duration readyDeadline)
            throws IOException {
        return mount(fs, mountPoint, DEFAULT_OPTIONS, readyDeadline);
    }

    /**
     * Starts loading what the first mount needs (jnr-fuse's libfuse binding and the libc one, which
     * jnr-ffi generates on first use: about a quarter of a second) on a daemon thread, so that it
     * overlaps with other start-up work (connecting to the source). A failure is left for the mount to
     * report.
     */
    public static void preloadAsync() {
        Thread t = new Thread(() -> {
            try {
                CloseOnExec.preload();
                new ru.serce.jnrfuse.FuseStubFS();
                if (!LIBFUSE_LOOP) {
                    FuseLoop.lib();
                }
            } catch (RuntimeException | LinkageError e) {
                log.debug("preloading the FUSE binding failed: {}", e.toString());
            }
        }, "fuse-preload");
        t.setDaemon(true);
        t.start();
    }

    /**
     * Cleans a stale mount at {@code mountPoint}, mounts {@code fs} there and waits until the mount
     * answers, at most {@code readyDeadline}.
     *
     * @param options libfuse {@code -o} options, each without the {@code -o}
     * @throws IOException if the mount point is not a directory, a stale mount cannot be removed, or
     *     the mount is not ready by the deadline (it is then unmounted again)
     */
    public static Mounts mount(AbstractFuseFS fs, Path mountPoint, List<String> options,
            Duration readyDeadline) throws IOException {
        Path mp = mountPoint.toAbsolutePath().normalize();
        if (!Files.isDirectory(mp)) {
            throw new IOException("mount point is not a directory: " + mp);
        }
        cleanStale(mp);
        String[] args = options.isEmpty()
                ? new String[0]
                : new String[] {"-o", String.join(",", options)};
        CloseOnExec.markAll(); // libfuse's fusermount helper must not inherit our sockets and files
        Mounts m = new Mounts(fs, mp, readyDeadline);
        Thread loop = new Thread(() -> m.runLoop(args), "fuse-loop " + mp.getFileName());
        loop.setDaemon(true);
        loop.start();
        try {
            m.awaitReady(readyDeadline);
        } catch (IOException | RuntimeException | Error e) {
            m.closeQuietly(e);
            throw e;
        }
        log.info("mounted {} with -o {}", mp, String.join(",", options));
        return m;
    }

    /**
     * Completes when the FUSE loop has returned: after {@link #close()}, or when someone else
     * unmounted ({@code fusermount -u}); exceptionally if the loop failed.
     */
    public CompletableFuture<Void> loopExit() {
        return loopExit.copy();
    }

    /** The absolute, normalised mount point. */
    public Path mountPoint() {
        return mountPoint;
    }

    /**
     * Unmounts (the loop told to exit, then {@code fusermount -u -z}; with {@link #LIBFUSE_LOOP}
     * jnr-fuse's umount) and waits until the kernel no longer lists the mount point and the loop has
     * ended; falls back to {@code fusermount -u -z} once more at the deadline.
     *
     * @throws IOException if the mount point is still listed after the deadline
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        boolean wasMounted = isMounted(mountPoint);
        FuseLoop l = loop;
        if (l != null) {
            l.exit();
            if (wasMounted) {
                fusermountLazy(mountPoint); // wakes the workers waiting for a request
            }
        } else {
            try {
                fs.umount();
            } catch (RuntimeException e) {
                log.warn("jnr-fuse umount of {} failed, trying fusermount: {}", mountPoint, e.toString());
            }
        }
        long deadline = System.nanoTime() + unmountDeadline.toNanos();
        while (isMounted(mountPoint)) {
            if (System.nanoTime() - deadline > 0) {
                fusermountLazy(mountPoint);
                if (isMounted(mountPoint)) {
                    throw new IOException("still mounted after unmount: " + mountPoint);
                }
                break;
            }
            sleep();
        }
        try {
            loopExit.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            log.warn("FUSE loop for {} still running after unmount", mountPoint);
        } catch (ExecutionException e) {
            log.debug("FUSE loop for {} ended with {}", mountPoint, e.getCause().toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (wasMounted) {
            log.info("unmounted {}", mountPoint);
        }
    }

    /** Whether {@code /proc/self/mountinfo} lists {@code mountPoint} as a mount point. */
    public static boolean isMounted(Path mountPoint) throws IOException {
        String want = mountPoint.toAbsolutePath().normalize().toString();
        for (String line : Files.readAllLines(MOUNTINFO, StandardCharsets.UTF_8)) {
            String[] f = line.split(" ");
            if (f.length > 4 && unescape(f[4]).equals(want)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Removes a mount left at {@code mountPoint} by a dead process: aborts its FUSE connection first
     * (a process blocked on a request its dead daemon will never answer is stuck in the kernel until
     * then; see native-notes/FUSE.md), then {@code fusermount -u -z}.
     */
    public static void cleanStale(Path mountPoint) throws IOException {
        if (isMounted(mountPoint)) {
            log.warn("stale mount at {}, aborting its connection and unmounting it", mountPoint);
            abortConnection(mountPoint);
            fusermountLazy(mountPoint);
            if (isMounted(mountPoint)) {
                throw new IOException("cannot remove stale mount at " + mountPoint);
            }
        }
    }

    /**
     * Writes to {@code /sys/fs/fuse/connections/N/abort} of the FUSE mount at {@code mountPoint}
     * (N: the minor device number in mountinfo), mounting {@code fusectl} there if it is not (root
     * only). Best effort: a failure is logged, the lazy unmount follows anyway.
     */
    static void abortConnection(Path mountPoint) {
        String want = mountPoint.toAbsolutePath().normalize().toString();
        try {
            String minor = null;
            for (String line : Files.readAllLines(MOUNTINFO, StandardCharsets.UTF_8)) {
                String[] f = line.split(" ");
                int dash = java.util.Arrays.asList(f).indexOf("-");
                if (f.length > 4 && unescape(f[4]).equals(want) && dash > 0 && dash + 1 < f.length
                        && f[dash + 1].startsWith("fuse") && f[2].startsWith("0:")) {
                    minor = f[2].substring(2);
                }
            }
            if (minor == null) {
                return;
            }
            Path connections = Path.of("/sys/fs/fuse/connections");
            if (Files.isDirectory(connections) && !Files.exists(connections.resolve(minor))) {
                new ProcessBuilder("mount", "-t", "fusectl", "none", connections.toString())
                        .redirectErrorStream(true).start().waitFor(5, TimeUnit.SECONDS);
            }
            Path abort = connections.resolve(minor).resolve("abort");
            if (Files.exists(abort)) {
                Files.writeString(abort, "1");
                log.info("aborted FUSE connection {} of {}", minor, mountPoint);
            }
        } catch (IOException | RuntimeException e) {
            log.debug("cannot abort the FUSE connection of {}: {}", mountPoint, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs the FUSE loop on this (dedicated) thread until unmount. */
    private void runLoop(String[] args) {
        try {
            if (LIBFUSE_LOOP) {
                fs.mount(mountPoint, true, false, args);
            } else {
                FuseLoop l = FuseLoop.start(fs, mountPoint.toString(), List.of(args));
                loop = l;
                int res = l.await();
                if (res < 0) {
                    throw new IOException("the FUSE loop of " + mountPoint + " ended with errno " + -res);
                }
            }
            loopExit.complete(null);
        } catch (Throwable t) {
            loopExit.completeExceptionally(t);
        }
    }

    private void awaitReady(Duration readyDeadline) throws IOException {
        long deadline = System.nanoTime() + readyDeadline.toNanos();
        Object parentDev = Files.getAttribute(mountPoint.getParent(), "unix:dev");
        while (true) {
            if (loopExit.isDone()) {
                throw new IOException("FUSE loop ended before the mount was ready: " + mountPoint,
                        loopExit.handle((v, t) -> t).join());
            }
            if (isMounted(mountPoint)
                    && !parentDev.equals(Files.getAttribute(mountPoint, "unix:dev"))) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("mount not ready after " + readyDeadline.toMillis()
                        + " ms: " + mountPoint);
            }
            sleep();
        }
    }

    private void closeQuietly(Throwable cause) {
        try {
            close();
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    private static void fusermountLazy(Path mountPoint) throws IOException {
        Process p = new ProcessBuilder("fusermount", "-u", "-z", mountPoint.toString())
                .redirectErrorStream(true)
                .start();
        try {
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("fusermount -u -z " + mountPoint + " did not finish in 5 s");
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.exitValue() != 0) {
                log.warn("fusermount -u -z {} exited {}: {}", mountPoint, p.exitValue(), out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unmounting " + mountPoint, e);
        }
    }

    /** Decodes the octal escapes (backslash and three octal digits, e.g. a space) of /proc/self/mountinfo. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        byte[] raw = s.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length);
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == '\\' && i + 3 < raw.length) {
                out.write(Integer.parseInt(new String(raw, i + 1, 3, StandardCharsets.US_ASCII), 8));
                i += 3;
            } else {
                out.write(raw[i]);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static void sleep() throws IOException {
        try {
            Thread.sleep(POLL_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
