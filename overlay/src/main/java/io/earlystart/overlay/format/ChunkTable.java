package io.earlystart.overlay.format;

import java.util.Arrays;

/**
 * The chunks of one customised image that differ from the base chunk at the same offset, sorted by
 * chunk index, each with its {@link ChunkKind} and argument (base chunk index for BASE_*, payload id
 * for DATA and DELTA, 0 for ZERO). Immutable and thread-safe once built; lookups are binary searches
 * over primitive arrays.
 */
public final class ChunkTable {
  private final int[] chunks;
  private final byte[] kinds;
  private final int[] args;

  private ChunkTable(int[] chunks, byte[] kinds, int[] args) {
    this.chunks = chunks;
    this.kinds = kinds;
    this.args = args;
  }

  public static final ChunkTable EMPTY = new ChunkTable(new int[0], new byte[0], new int[0]);

  public int size() {
    return chunks.length;
  }

  /** Chunk index of entry {@code i}. */
  public int chunk(int i) {
    return chunks[i];
  }

  public ChunkKind kind(int i) {
    return ChunkKind.ofCode(kinds[i]);
  }

  public int arg(int i) {
    return args[i];
  }

  /** @return the entry index for {@code chunk}, or a negative number when the chunk is base */
  public int find(int chunk) {
    return Arrays.binarySearch(chunks, chunk);
  }

  /** Number of entries of each kind, indexed by {@link ChunkKind#ordinal()}. */
  public long[] countByKind() {
    long[] counts = new long[ChunkKind.values().length];
    for (byte k : kinds) {
      counts[k]++;
    }
    return counts;
  }

  /** Builds a table from entries added in strictly increasing chunk order. Not thread-safe. */
  public static final class Builder {
    private int[] chunks = new int[64];
    private byte[] kinds = new byte[64];
    private int[] args = new int[64];
    private int size;

    public Builder add(int chunk, ChunkKind kind, int arg) {
      if (size > 0 && chunk <= chunks[size - 1]) {
        throw new IllegalArgumentException("chunk " + chunk + " not after " + chunks[size - 1]);
      }
      if (size == chunks.length) {
        int n = size * 2;
        chunks = Arrays.copyOf(chunks, n);
        kinds = Arrays.copyOf(kinds, n);
        args = Arrays.copyOf(args, n);
      }
      chunks[size] = chunk;
      kinds[size] = (byte) kind.code;
      args[size] = arg;
      size++;
      return this;
    }

    public int size() {
      return size;
    }

    public ChunkTable build() {
      return new ChunkTable(Arrays.copyOf(chunks, size), Arrays.copyOf(kinds, size), Arrays.copyOf(args, size));
    }
  }
}
