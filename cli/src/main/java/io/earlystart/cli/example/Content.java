package io.earlystart.cli.example;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Seeded file contents that compress like the real thing: "binary" (ELF-ish, zstd ~2x), "text"
 * (documentation, zstd ~4x), "model" (float32 weights, nearly incompressible) and small configs.
 * Everything is a pure function of the {@link SplittableRandom} passed in.
 */
final class Content {

  private static final int PIECE = 1 << 20;

  static final String[] WORDS = (
      "the of and to a in is it you that for on with as are this be by or from at not an can "
      + "file system package option default kernel version license configuration directory user "
      + "server client network service module driver device memory disk image value path name "
      + "support program library function command manual page section example output input error "
      + "warning message data buffer stream socket address port host interface protocol release "
      + "change changes fixed bug bugs update updated new old build install installed remove "
      + "removed debian upstream source binary archive copyright permission software distributed "
      + "without warranty free public general terms conditions see details information include "
      + "header format string number list table entry entries block blocks size length offset "
      + "read write open close create delete lock unlock thread process signal timeout retry "
      + "when if then else while return must should may will does used using use set get "
      + "security access control group owner mode flag flags status state start stop restart "
      + "enable disable log logging level debug trace info notice critical alert emergency "
      + "mount filesystem partition volume device mapper cache journal inode superblock extent "
      + "compile compiler linker object shared static dynamic symbol symbols version script "
      + "documentation reference tutorial introduction overview chapter appendix index glossary "
      + "author maintainer contributor thanks report reports patch patches merge branch commit").split(" ");

  private static final String[] PHRASES = {
    "This program is free software; you can redistribute it and/or modify it",
    "under the terms of the GNU General Public License as published by",
    "the Free Software Foundation; either version 2 of the License, or",
    "WITHOUT ANY WARRANTY; without even the implied warranty of",
    "MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.",
    "See the manual page for details.",
    "  * New upstream release.",
    "  * Fix a memory leak in the error path.",
    "  * Update the default configuration file.",
    " -- Debian Maintainers <maint@lists.debian.org>",
    "Please report bugs to the upstream bug tracker.",
    "The default value is used when the option is not set.",
  };

  private static final Map<Integer, List<String>> BY_LENGTH = new HashMap<>();

  static {
    for (String w : WORDS) {
      BY_LENGTH.computeIfAbsent(w.length(), k -> new ArrayList<>()).add(w);
    }
  }

  private Content() {
  }

  /** Fills {@code b[off, off+len)} with random bytes. */
  static void random(SplittableRandom r, byte[] b, int off, int len) {
    int end = off + len;
    int i = off;
    while (i + 8 <= end) {
      long v = r.nextLong();
      for (int k = 0; k < 8; k++) {
        b[i++] = (byte) (v >>> (k << 3));
      }
    }
    if (i < end) {
      long v = r.nextLong();
      while (i < end) {
        b[i++] = (byte) v;
        v >>>= 8;
      }
    }
  }

  /** Binary-like bytes: literal random runs, back-references and short padding runs (~2x with zstd). */
  static byte[] binary(SplittableRandom r, int size) {
    byte[] b = new byte[size];
    int pos = 0;
    while (pos < size) {
      int len = Math.min(size - pos, 8 + r.nextInt(56));
      int t = r.nextInt(100);
      if (t < 47 || pos < 256) {
        random(r, b, pos, len);
      } else if (t < 95) {
        int maxDist = Math.min(pos, 32768);
        int dist = len + r.nextInt(Math.max(1, maxDist - len));
        System.arraycopy(b, pos - dist, b, pos, len);
      } else {
        byte fill = switch (r.nextInt(3)) {
          case 0 -> (byte) 0x00;
          case 1 -> (byte) 0x90;
          default -> (byte) 0xcc;
        };
        java.util.Arrays.fill(b, pos, pos + len, fill);
      }
      pos += len;
    }
    return b;
  }

  /** Documentation-like text: vocabulary words (Zipf-ish), sentences, lines and boilerplate (~4x). */
  static byte[] text(SplittableRandom r, int size) {
    StringBuilder sb = new StringBuilder(size + 128);
    int col = 0;
    boolean sentenceStart = true;
    while (sb.length() < size) {
      if (r.nextInt(100) < 4) {
        sb.append('\n').append(PHRASES[r.nextInt(PHRASES.length)]).append('\n');
        col = 0;
        sentenceStart = true;
        continue;
      }
      // Zipf-ish: squaring a uniform value favours the first (common) words
      double u = r.nextDouble();
      String w = WORDS[(int) (u * u * WORDS.length)];
      if (sentenceStart) {
        w = Character.toUpperCase(w.charAt(0)) + w.substring(1);
        sentenceStart = false;
      }
      if (col + w.length() > 72) {
        sb.append('\n');
        col = 0;
      } else if (col > 0) {
        sb.append(' ');
        col++;
      }
      sb.append(w);
      col += w.length();
      int p = r.nextInt(100);
      if (p < 8) {
        sb.append('.');
        col++;
        sentenceStart = true;
        if (p < 1) {
          sb.append("\n\n");
          col = 0;
        }
      } else if (p < 12) {
        sb.append(',');
        col++;
      }
    }
    byte[] all = sb.toString().getBytes(StandardCharsets.US_ASCII);
    return all.length == size ? all : java.util.Arrays.copyOf(all, size);
  }

  /** Small "key = value" configuration file. */
  static byte[] config(SplittableRandom r, String header, int size) {
    StringBuilder sb = new StringBuilder("# ").append(header).append('\n');
    while (sb.length() < size) {
      String k = WORDS[r.nextInt(WORDS.length)] + "_" + WORDS[r.nextInt(WORDS.length)];
      switch (r.nextInt(3)) {
        case 0 -> sb.append(k).append(" = ").append(r.nextInt(65536)).append('\n');
        case 1 -> sb.append(k).append(" = ").append(r.nextBoolean() ? "yes" : "no").append('\n');
        default -> sb.append(k).append(" = /").append(WORDS[r.nextInt(WORDS.length)]).append('/')
            .append(WORDS[r.nextInt(WORDS.length)]).append('\n');
      }
    }
    return java.util.Arrays.copyOf(sb.toString().getBytes(StandardCharsets.US_ASCII), size);
  }

  /** float32 little-endian weights around N(0, 0.05): random mantissas, clustered exponents. */
  static byte[] model(SplittableRandom r, int size) {
    byte[] b = new byte[size];
    int i = 0;
    for (; i + 4 <= size; i += 4) {
      int bits = Float.floatToIntBits((float) (gaussian(r) * 0.05));
      b[i] = (byte) bits;
      b[i + 1] = (byte) (bits >>> 8);
      b[i + 2] = (byte) (bits >>> 16);
      b[i + 3] = (byte) (bits >>> 24);
    }
    random(r, b, i, size - i);
    return b;
  }

  private static double gaussian(SplittableRandom r) {
    // sum of uniforms: cheap and good enough for "weights"
    return r.nextDouble() + r.nextDouble() + r.nextDouble() - 1.5;
  }

  /**
   * Replaces a few words in place by other words of the same length: a small edit that keeps
   * the file size and the position of every other byte.
   */
  static byte[] editText(SplittableRandom r, byte[] original, int edits) {
    byte[] b = original.clone();
    for (int e = 0; e < edits; e++) {
      int p = r.nextInt(b.length);
      while (p < b.length && isLetter(b[p])) {
        p++; // skip to the end of the current word
      }
      while (p < b.length && !isLetter(b[p])) {
        p++; // to the start of the next word
      }
      int end = p;
      while (end < b.length && isLetter(b[end])) {
        end++;
      }
      int len = end - p;
      if (len == 0) {
        continue;
      }
      List<String> same = BY_LENGTH.get(len);
      String current = new String(b, p, len, StandardCharsets.US_ASCII);
      String repl = same == null ? null : same.get(r.nextInt(same.size()));
      if (repl == null || repl.equalsIgnoreCase(current)) {
        repl = current.toUpperCase(java.util.Locale.ROOT);
        if (repl.equals(current)) {
          repl = current.toLowerCase(java.util.Locale.ROOT);
        }
      }
      System.arraycopy(repl.getBytes(StandardCharsets.US_ASCII), 0, b, p, len);
    }
    return b;
  }

  private static boolean isLetter(byte c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  /** Kinds of large files that are generated piece by piece (bounded memory). */
  enum Kind { BINARY, TEXT, MODEL }

  /** Writes {@code size} bytes of the given kind, generated in 1 MiB pieces. */
  static void write(Path file, Kind kind, long size, SplittableRandom r) throws IOException {
    try (OutputStream out = Files.newOutputStream(file)) {
      long left = size;
      while (left > 0) {
        int n = (int) Math.min(PIECE, left);
        byte[] piece = switch (kind) {
          case BINARY -> binary(r, n);
          case TEXT -> text(r, n);
          case MODEL -> model(r, n);
        };
        out.write(piece);
        left -= n;
      }
    }
  }
}
