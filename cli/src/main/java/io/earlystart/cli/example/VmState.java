package io.earlystart.cli.example;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * A pseudo QEMU device-state stream ("QEVM", version 3, then device sections) of 400 KiB, and
 * the small vm.json that describes the machine.
 */
final class VmState {

  static final int SIZE = 400 * 1024;

  private static final byte SECTION_FULL = 0x04;
  private static final byte EOF = 0x1f;

  /** name, instance, version, payload size. */
  private static final Object[][] DEVICES = {
    {"timer", 0, 2, 24}, {"cpu_common", 0, 1, 16}, {"cpu", 0, 12, 6144}, {"apic", 0, 3, 1024},
    {"kvmclock", 0, 1, 32}, {"fw_cfg", 0, 2, 64}, {"PCIBUS", 0, 1, 512}, {"i440FX", 0, 3, 512},
    {"PIIX3", 0, 3, 512}, {"i8259", 0, 1, 64}, {"i8259", 1, 1, 64}, {"ioapic", 0, 3, 256},
    {"mc146818rtc", 0, 3, 128}, {"i8254", 0, 3, 128}, {"hpet", 0, 2, 512}, {"serial", 0, 3, 64},
    {"ps2kbd", 0, 3, 256}, {"ps2mouse", 0, 2, 256}, {"fdc", 0, 2, 512}, {"vga", 0, 2, 262144},
    {"virtio-blk", 0, 2, 16384}, {"virtio-net", 0, 11, 32768}, {"acpi", 0, 3, 1024},
  };

  private VmState() {
  }

  static void write(Path file, long seed) throws IOException {
    SplittableRandom r = new SplittableRandom(MemoryBuilder.mix(seed, 0x7E5A7EL));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(SIZE);
    DataOutputStream out = new DataOutputStream(bytes);
    out.writeBytes("QEVM");
    out.writeInt(3);
    int section = 0;
    for (Object[] d : DEVICES) {
      String name = (String) d[0];
      out.writeByte(SECTION_FULL);
      out.writeInt(section++);
      out.writeByte(name.length());
      out.writeBytes(name);
      out.writeInt((Integer) d[1]);
      out.writeInt((Integer) d[2]);
      int size = (Integer) d[3];
      out.writeInt(size);
      out.write(payload(r, name, size));
    }
    // an opaque trailer section fills the stream up to SIZE (minus the EOF byte)
    String name = "opaque";
    int header = 1 + 4 + 1 + name.length() + 4 + 4 + 4;
    int fill = SIZE - bytes.size() - header - 1;
    out.writeByte(SECTION_FULL);
    out.writeInt(section);
    out.writeByte(name.length());
    out.writeBytes(name);
    out.writeInt(0);
    out.writeInt(1);
    out.writeInt(fill);
    byte[] tail = new byte[fill];
    Content.random(r, tail, 0, fill);
    out.write(tail);
    out.writeByte(EOF);
    out.flush();
    Files.write(file, bytes.toByteArray());
  }

  /** Registers (structured 64-bit words) for small devices, text-mode screen for vga, rings for virtio. */
  private static byte[] payload(SplittableRandom r, String name, int size) {
    byte[] b = new byte[size];
    if (name.equals("vga")) {
      // 80x25 text screens: character/attribute pairs, mostly blanks, some text
      byte[] line = "earlystart login: Debian GNU/Linux 12 ttyS0   ".getBytes(StandardCharsets.US_ASCII);
      for (int i = 0; i + 1 < size; i += 2) {
        int col = (i / 2) % 80;
        boolean text = ((i / 160) % 25) < 6 && col < line.length;
        b[i] = text ? line[col] : (byte) ' ';
        b[i + 1] = 0x07;
      }
      for (int k = 0; k < 64; k++) { // cursor/blink noise
        b[r.nextInt(size)] = (byte) r.nextInt(256);
      }
    } else if (name.startsWith("virtio")) {
      for (int i = 0; i + 16 <= size; i += 16) { // vring descriptors: addr, len, flags, next
        long addr = 0x100000000L + (r.nextLong() & 0xffff000L);
        putLong(b, i, addr);
        putLong(b, i + 8, ((long) (i / 16 + 1) << 48) | ((long) r.nextInt(3) << 32) | (4096 - r.nextInt(512)));
      }
    } else {
      for (int i = 0; i + 8 <= size; i += 8) {
        long v = switch (r.nextInt(4)) {
          case 0 -> 0L;
          case 1 -> r.nextInt(65536);
          case 2 -> 0xffffffff81000000L | (r.nextLong() & 0xffffffL);
          default -> r.nextLong();
        };
        putLong(b, i, v);
      }
    }
    return b;
  }

  private static void putLong(byte[] b, int off, long v) {
    for (int k = 0; k < 8; k++) {
      b[off + k] = (byte) (v >>> (56 - 8 * k));
    }
  }

  static void writeConfig(Path file, long memorySize, long diskSize) throws IOException {
    String json = "{\n"
        + "  \"ram\": \"" + memorySize + "\",\n"
        + "  \"machine\": \"pc\",\n"
        + "  \"cpu\": \"qemu64\",\n"
        + "  \"smp\": 1,\n"
        + "  \"disk\": \"virtio-blk\",\n"
        + "  \"disk_size\": \"" + diskSize + "\"\n"
        + "}\n";
    Files.writeString(file, json, StandardCharsets.US_ASCII);
  }
}
