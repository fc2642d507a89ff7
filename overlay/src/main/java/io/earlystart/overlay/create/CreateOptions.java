package io.earlystart.overlay.create;

import io.earlystart.overlay.format.Manifest;
import java.nio.file.Path;

/**
 * What {@link OverlayCreator#create} needs. {@code vmstate} and {@code vmConfig} may be null.
 *
 * @param segmentSize chunk bytes per segment, about (a segment closes once it holds this many)
 * @param level zstd level for segments and deltas (1..19)
 * @param threads worker threads for scanning and compression
 * @param dedup whether a changed chunk is looked up among all chunks of both base images (BASE_DISK,
 *     BASE_MEM) and equal new chunks share one payload (self dedup); false leaves only what needs no
 *     lookup across offsets (ZERO, DELTA against the base chunk at the same offset, compression), for
 *     measuring what dedup is worth
 */
public record CreateOptions(Path baseDisk, Path baseMemory, Path disk, Path memory, Path vmstate, Path vmConfig,
    Path output, int segmentSize, int level, int threads, boolean dedup) {

  public static final int DEFAULT_SEGMENT_SIZE = 1 << 20;
  public static final int DEFAULT_LEVEL = 9;

  public CreateOptions {
    if (segmentSize < Manifest.CHUNK_SIZE || segmentSize > 64 << 20) {
      throw new IllegalArgumentException("segment size must be between 4 KiB and 64 MiB, not " + segmentSize);
    }
    if (level < 1 || level > 19) {
      throw new IllegalArgumentException("zstd level must be between 1 and 19, not " + level);
    }
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1");
    }
  }

  public static CreateOptions of(Path baseDisk, Path baseMemory, Path disk, Path memory, Path output) {
    return new CreateOptions(baseDisk, baseMemory, disk, memory, null, null, output, DEFAULT_SEGMENT_SIZE,
        DEFAULT_LEVEL, Runtime.getRuntime().availableProcessors(), true);
  }

  public CreateOptions withAttachments(Path vmstate, Path vmConfig) {
    return new CreateOptions(baseDisk, baseMemory, disk, memory, vmstate, vmConfig, output, segmentSize, level,
        threads, dedup);
  }

  public CreateOptions withSegmentSize(int size) {
    return new CreateOptions(baseDisk, baseMemory, disk, memory, vmstate, vmConfig, output, size, level, threads,
        dedup);
  }

  public CreateOptions withLevel(int zstdLevel) {
    return new CreateOptions(baseDisk, baseMemory, disk, memory, vmstate, vmConfig, output, segmentSize, zstdLevel,
        threads, dedup);
  }

  public CreateOptions withThreads(int n) {
    return new CreateOptions(baseDisk, baseMemory, disk, memory, vmstate, vmConfig, output, segmentSize, level, n,
        dedup);
  }

  /** With {@code on} false: no BASE_DISK / BASE_MEM and no shared payloads (see {@link #dedup()}). */
  public CreateOptions withDedup(boolean on) {
    return new CreateOptions(baseDisk, baseMemory, disk, memory, vmstate, vmConfig, output, segmentSize, level,
        threads, on);
  }
}
