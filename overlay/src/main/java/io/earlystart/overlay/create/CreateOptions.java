package io.earlystart.overlay.create;

import io.earlystart.overlay.format.Manifest;
import java.nio.file.Path;

/**
 * What {@link OverlayCreator#create} needs. {@code vmstate} and {@code vmConfig} may be null.
 *
 * @param segmentSize chunk bytes per segment, about (a segment closes once it holds this many)
 * @param level zstd level for segments and deltas (1..19)
 * @param threads worker threads for scanning and compression
 */
public record CreateOptions(Path baseDisk, Path baseMemory, Path disk, Path memory, Path vmstate, Path vmConfig,
    Path output, int segmentSize, int level, int threads) {

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
        DEFAULT_LEVEL, Runtime.getRuntime().availableProcessors());
  }

  public CreateOptions withAttachments(Path vmstate, Path vmConfig) {
    return new CreateOptions(baseDisk, baseMemory, disk, memory, vmstate, vmConfig, output, segmentSize, level,
        threads);
  }

  public CreateOptions withSegmentSize(int size) {
    return new CreateOptions(baseDisk, baseMemory, disk, memory, vmstate, vmConfig, output, size, level, threads);
  }

  public CreateOptions withLevel(int zstdLevel) {
    return new CreateOptions(baseDisk, baseMemory, disk, memory, vmstate, vmConfig, output, segmentSize, zstdLevel,
        threads);
  }

  public CreateOptions withThreads(int n) {
    return new CreateOptions(baseDisk, baseMemory, disk, memory, vmstate, vmConfig, output, segmentSize, level, n);
  }
}
