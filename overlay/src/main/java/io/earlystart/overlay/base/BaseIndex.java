package io.earlystart.overlay.base;

import io.earlystart.overlay.format.BaseRef;
import io.earlystart.overlay.format.Manifest;
import io.earlystart.overlay.io.ImageFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.Map;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The identity (size, {@link BlockHashDigest block-hash digest}), per-chunk hashes and zero chunks of one
 * base image, computed in one sequential pass that neither reads nor hashes holes, and cached beside the
 * image as {@code IMAGE.esidx}. The cache is used only while the image's size, modification time, inode
 * and change time are those recorded in it; otherwise it is rebuilt. If the cache cannot be written
 * (read-only directory) the index is still returned, with a warning. Immutable and thread-safe once
 * loaded.
 *
 * <pre>
 * esidx := "ESIDX003" size:u64 mtimeNanos:u64 inode:u64 ctimeNanos:u64 blockHash:byte[32]
 *          chunkSize:u32 chunkCount:u64 hash:u64{chunkCount} crc32c:u32   (big-endian)
 * </pre>
 *
 * ESIDX002 held the SHA-256 of every byte where ESIDX003 holds the block-hash digest; its magic no longer
 * matches, so such a cache is rebuilt.
 */
public final class BaseIndex {
  private static final Logger LOG = LoggerFactory.getLogger(BaseIndex.class);
  private static final byte[] MAGIC = "ESIDX003".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final int HEADER = 8 + 8 * 4 + 32 + 4 + 8;
  private static final int BLOCK = BlockHashDigest.BLOCK;
  public static final String SUFFIX = ".esidx";
  /** The stored hash of an all-zero chunk; no other chunk has it. */
  public static final long ZERO = 0;

  private final long size;
  private final byte[] blockHash;
  private final long[] hashes;
  private final boolean fromCache;
  private final long hashedBytes;

  private BaseIndex(long size, byte[] blockHash, long[] hashes, boolean fromCache, long hashedBytes) {
    this.size = size;
    this.blockHash = blockHash;
    this.hashes = hashes;
    this.fromCache = fromCache;
    this.hashedBytes = hashedBytes;
  }

  /** The image as a version-2 overlay names it: size and block-hash digest. */
  public BaseRef ref() {
    return new BaseRef(size, blockHash.clone());
  }

  public long size() {
    return size;
  }

  public int chunkCount() {
    return hashes.length;
  }

  /**
   * {@link ChunkHash} of chunk {@code i} (zero-padded if it is the short last chunk), as adjusted by
   * {@link #nonZero}; {@link #ZERO} exactly when the chunk is all zero.
   */
  public long hash(int i) {
    return hashes[i];
  }

  /** True when chunk {@code i} is all zero bytes (checked byte by byte when the index was built). */
  public boolean isZero(int i) {
    return hashes[i] == ZERO;
  }

  /** A chunk hash as the index stores it for a non-zero chunk: {@link #ZERO} is kept for zero chunks. */
  public static long nonZero(long hash) {
    return hash == ZERO ? 1 : hash;
  }

  /** True when this index came from a valid cache file rather than a pass over the image. */
  public boolean fromCache() {
    return fromCache;
  }

  /** Bytes the block-hash digest hashed when this index was built (0 from the cache): never a hole's. */
  long hashedBytes() {
    return hashedBytes;
  }

  public static Path cachePath(Path image) {
    return image.resolveSibling(image.getFileName() + SUFFIX);
  }

  /** The index of {@code image}, from its cache if still valid, else by reading it (and caching). */
  public static BaseIndex loadOrBuild(Path image, String role) throws IOException {
    Stamp stamp = Stamp.of(image, role);
    Path cache = cachePath(image);
    BaseIndex cached = tryLoad(cache, stamp);
    if (cached != null) {
      return cached;
    }
    BaseIndex built = build(image, role, stamp);
    try {
      built.write(cache, stamp);
    } catch (IOException e) {
      LOG.warn("cannot cache the index of {} in {}: {}", image, cache, e.toString());
    }
    return built;
  }

  /**
   * The image's size and block-hash digest, as {@code loadOrBuild(image, role).ref()} gives them, without
   * keeping its chunk hashes: from a valid cache file, read through once in small buffers for its CRC (an
   * 8 GiB image's cache is 16 MiB: loading it whole cost a fresh JVM ~0.1 s on the mount's critical path),
   * else by building (and caching) the index.
   */
  public static BaseRef ref(Path image, String role) throws IOException {
    BaseRef cached = tryLoadRef(cachePath(image), Stamp.of(image, role));
    return cached != null ? cached : loadOrBuild(image, role).ref();
  }

  private static BaseRef tryLoadRef(Path cache, Stamp stamp) {
    try (FileChannel ch = FileChannel.open(cache, StandardOpenOption.READ)) {
      long expected = cacheLength(stamp);
      if (ch.size() != expected) {
        return null;
      }
      ByteBuffer b = ByteBuffer.allocateDirect(256 << 10).order(ByteOrder.BIG_ENDIAN);
      CRC32C crc = new CRC32C();
      byte[] blockHash = null;
      long pos = 0;
      while (pos < expected - 4) {
        b.clear().limit((int) Math.min(b.capacity(), expected - 4 - pos));
        while (b.hasRemaining()) {
          if (ch.read(b, pos + b.position()) < 0) {
            return null;
          }
        }
        b.flip();
        if (blockHash == null) { // the first buffer: it holds the whole header (far smaller than the buffer)
          blockHash = b.remaining() < HEADER ? null : header(b, stamp);
          if (blockHash == null) {
            return null;
          }
          b.rewind();
        }
        pos += b.remaining();
        crc.update(b);
      }
      ByteBuffer tail = ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN);
      while (tail.hasRemaining()) {
        if (ch.read(tail, expected - 4 + tail.position()) < 0) {
          return null;
        }
      }
      return (int) crc.getValue() == tail.getInt(0) ? new BaseRef(stamp.size, blockHash) : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  static BaseIndex build(Path image, String role, Stamp stamp) throws IOException {
    long started = System.nanoTime();
    BlockHashDigest id = new BlockHashDigest(stamp.size);
    long chunks = Manifest.chunkCount(stamp.size, Manifest.CHUNK_SIZE);
    if (chunks > Integer.MAX_VALUE) {
      throw new IOException(role + " " + image + " is too large (" + stamp.size + " bytes)");
    }
    long[] hashes = new long[(int) chunks];
    byte[] block = new byte[BLOCK];
    try (ImageFile in = ImageFile.openSparse(image, role)) {
      int c = 0;
      for (long pos = 0; pos < stamp.size; pos += BLOCK) {
        int len = (int) Math.min(BLOCK, stamp.size - pos);
        int padded = (len + Manifest.CHUNK_SIZE - 1) / Manifest.CHUNK_SIZE * Manifest.CHUNK_SIZE;
        if (!in.hasData(pos, len)) { // a hole: zero chunks (ZERO is 0, as the array starts), not read nor hashed
          id.zeroBlock(len);
          c += padded / Manifest.CHUNK_SIZE;
          continue;
        }
        in.read(pos, block, 0, len);
        Arrays.fill(block, len, padded, (byte) 0);
        boolean allZero = true;
        for (int off = 0; off < padded; off += Manifest.CHUNK_SIZE) {
          boolean zero = ChunkHash.isZero(block, off, Manifest.CHUNK_SIZE);
          hashes[c++] = zero ? ZERO : nonZero(ChunkHash.hash(block, off, Manifest.CHUNK_SIZE));
          allZero &= zero;
        }
        if (allZero) { // zeros written out, as in a dense copy: the same digest as a hole, without the hash
          id.zeroBlock(len);
        } else {
          id.block(block, 0, len);
        }
      }
    }
    if (!Stamp.of(image, role).equals(stamp)) {
      throw new IOException(role + " " + image + " changed while it was being indexed");
    }
    LOG.debug("indexed {} {} in {} ms: {} of {} bytes hashed", role, image, (System.nanoTime() - started) / 1_000_000,
        id.hashedBytes(), stamp.size);
    return new BaseIndex(stamp.size, id.digest(), hashes, false, id.hashedBytes());
  }

  private static BaseIndex tryLoad(Path cache, Stamp stamp) {
    try (FileChannel ch = FileChannel.open(cache, StandardOpenOption.READ)) {
      long expected = cacheLength(stamp);
      if (ch.size() != expected || expected > Integer.MAX_VALUE) {
        return null;
      }
      ByteBuffer b = ByteBuffer.allocate((int) expected).order(ByteOrder.BIG_ENDIAN);
      while (b.hasRemaining() && ch.read(b) >= 0) {
        // fill
      }
      b.flip();
      CRC32C crc = new CRC32C();
      crc.update(b.array(), 0, (int) expected - 4);
      if ((int) crc.getValue() != b.getInt((int) expected - 4)) {
        return null;
      }
      byte[] blockHash = header(b, stamp);
      if (blockHash == null) {
        return null;
      }
      long[] hashes = new long[(int) Manifest.chunkCount(stamp.size, Manifest.CHUNK_SIZE)];
      b.asLongBuffer().get(hashes);
      return new BaseIndex(stamp.size, blockHash, hashes, true, 0);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** The length of a cache file for an image stamped {@code stamp}: header, one hash per chunk, CRC. */
  private static long cacheLength(Stamp stamp) {
    return HEADER + 8L * Manifest.chunkCount(stamp.size, Manifest.CHUNK_SIZE) + 4;
  }

  /**
   * Reads the header at {@code b}'s position (which it leaves after the header): the block-hash digest
   * when magic, stamp, chunk size and chunk count are this image's, else null.
   */
  private static byte[] header(ByteBuffer b, Stamp stamp) {
    byte[] magic = new byte[MAGIC.length];
    b.get(magic);
    Stamp recorded = new Stamp(b.getLong(), b.getLong(), b.getLong(), b.getLong());
    byte[] blockHash = new byte[32];
    b.get(blockHash);
    boolean ours = Arrays.equals(magic, MAGIC) && recorded.equals(stamp) && b.getInt() == Manifest.CHUNK_SIZE
        && b.getLong() == Manifest.chunkCount(stamp.size, Manifest.CHUNK_SIZE);
    return ours ? blockHash : null;
  }

  private void write(Path cache, Stamp stamp) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(HEADER + 8 * hashes.length + 4).order(ByteOrder.BIG_ENDIAN);
    b.put(MAGIC).putLong(stamp.size).putLong(stamp.mtimeNanos).putLong(stamp.inode).putLong(stamp.ctimeNanos)
        .put(blockHash).putInt(Manifest.CHUNK_SIZE).putLong(hashes.length);
    b.asLongBuffer().put(hashes);
    b.position(b.position() + 8 * hashes.length);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, b.position());
    b.putInt((int) crc.getValue());
    b.flip();
    Path tmp = cache.resolveSibling(cache.getFileName() + ".tmp" + ProcessHandle.current().pid());
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        while (b.hasRemaining()) {
          ch.write(b);
        }
      }
      Files.move(tmp, cache, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AccessDeniedException e) {
      throw new IOException("directory not writable", e);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** What identifies a version of the image file without reading it. */
  record Stamp(long size, long mtimeNanos, long inode, long ctimeNanos) {
    static Stamp of(Path image, String role) throws IOException {
      if (!Files.isRegularFile(image)) {
        throw new java.nio.file.NoSuchFileException(image.toString(), null, role + " not found or not a file");
      }
      Map<String, Object> a = Files.readAttributes(image, "unix:size,lastModifiedTime,ino,ctime");
      return new Stamp((Long) a.get("size"), nanos((FileTime) a.get("lastModifiedTime")), (Long) a.get("ino"),
          nanos((FileTime) a.get("ctime")));
    }

    private static long nanos(FileTime t) {
      return t.to(java.util.concurrent.TimeUnit.NANOSECONDS);
    }
  }
}
