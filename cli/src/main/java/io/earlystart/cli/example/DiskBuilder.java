package io.earlystart.cli.example;

import static io.earlystart.cli.example.BaseTree.KIB;
import static io.earlystart.cli.example.BaseTree.MIB;
import static io.earlystart.cli.example.BaseTree.roundUp;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Builds the base ext4 image with {@code mke2fs -d} and the customised one by "installing an
 * application" into a copy with {@code debugfs -w} (no mount needed).
 */
final class DiskBuilder {

  private static final String APP = "/opt/app";
  private static final String[] APP_DIRS = {"/opt", APP, APP + "/bin", APP + "/lib", APP + "/share",
    APP + "/share/doc", APP + "/models", APP + "/vendor", "/etc/app"};

  private final Path work;
  private final long seed;
  private final long diskSize;
  private final double scale;
  private BaseTree tree;
  private long bigPackSize;

  DiskBuilder(Path work, long seed, long diskSize) {
    this.work = work;
    this.seed = seed;
    this.diskSize = diskSize;
    this.scale = contentScale(diskSize);
  }

  /**
   * Fraction of the nominal content (57% OS, then -10% big.pack +16% new data) that fits: small
   * disks lose a large share to the journal (at least 4 MiB) and the inode tables.
   */
  static double contentScale(long disk) {
    long blocks = disk / 4096;
    long journal = blocks < 2048 ? 0 : blocks < 32768 ? 1024 : blocks < 256 * 1024 ? 4096
        : blocks < 512 * 1024 ? 8192 : blocks < 4096 * 1024 ? 16384 : 32768;
    long inodeTables = disk / (disk < 512 * MIB ? 4096 : 16384) * 256;
    long overhead = journal * 4096 + inodeTables + disk / 50 + MIB;
    double capacity = 0.85 * (disk - overhead);
    return Math.max(0.1, Math.min(1.0, capacity / (0.63 * disk)));
  }

  static UUID uuid(long seed, long salt) {
    SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + salt);
    long msb = (r.nextLong() & ~0xF000L) | 0x4000L;
    long lsb = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(msb, lsb);
  }

  void buildBase(Path image) throws IOException, InterruptedException {
    SplittableRandom r = new SplittableRandom(seed ^ 0x5EEDBA5E0001L);
    long os = (long) (diskSize * 0.57 * scale);
    bigPackSize = (long) (diskSize * 0.10 * scale);
    Path root = work.resolve("base");
    tree = BaseTree.write(root, r, os, bigPackSize);

    List<String> entries = new ArrayList<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : (Iterable<Path>) s.sorted()::iterator) {
        String rel = root.relativize(p).toString();
        entries.add("/" + rel);
        if (Files.isDirectory(p)) {
          Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
      }
    }

    Files.deleteIfExists(image);
    Sparse.finish(image, diskSize);
    E2fsTools.run(work, work, List.of(E2fsTools.require("mke2fs").toString(), "-q", "-F", "-t", "ext4",
        "-b", "4096", "-d", root.toString(), "-U", uuid(seed, 1).toString(),
        "-E", "hash_seed=" + uuid(seed, 2) + ",lazy_itable_init=0,lazy_journal_init=0",
        "-L", "base", image.toString(), (diskSize / KIB) + "k"));

    // mke2fs -d copies the host's atime/ctime/owner: pin them so the image is reproducible
    StringBuilder cmd = new StringBuilder();
    for (String e : entries) {
      pin(cmd, e, true);
    }
    edit(work, "pin.cmd", cmd, image);
  }

  private static void pin(StringBuilder cmd, String path, boolean times) {
    if (times) {
      for (String f : new String[] {"atime", "ctime", "mtime"}) {
        cmd.append("sif ").append(path).append(' ').append(f).append(" @").append(E2fsTools.FAKE_TIME).append('\n');
      }
    }
    cmd.append("sif ").append(path).append(" uid 0\n");
    cmd.append("sif ").append(path).append(" gid 0\n");
  }

  void customise(Path base, Path disk) throws IOException, InterruptedException {
    SplittableRandom r = new SplittableRandom(seed ^ 0x5EEDC0570002L);
    Sparse.copy(base, disk);
    long free = E2fsTools.freeBlocks(work, disk) * 4096;
    long available = (long) ((free + roundUp(bigPackSize)) * 0.85) - 256 * KIB;
    Path stage = work.resolve("stage");
    Files.createDirectories(stage);
    StringBuilder cmd = new StringBuilder();
    List<String> created = new ArrayList<>();

    cmd.append("rm ").append(BaseTree.BIG_PACK).append('\n'); // "apt clean"
    for (String d : APP_DIRS) {
      cmd.append("mkdir ").append(d).append('\n');
      created.add(d);
    }

    // vendored copies of base libraries: same bytes, new place -> chunks equal to base chunks
    long used = 0;
    long vendorTarget = (long) (diskSize * 0.02 * scale);
    List<BaseTree.FileInfo> libs = shuffled(tree.libs, r);
    for (BaseTree.FileInfo f : libs) {
      if (used >= vendorTarget) {
        break;
      }
      String name = f.fsPath().substring(f.fsPath().lastIndexOf('/') + 1);
      write(cmd, created, "base" + f.fsPath(), APP + "/vendor/" + name);
      used += roundUp(f.size());
    }

    // a few documentation files edited in place (same size, some words changed)
    List<BaseTree.FileInfo> docs = new ArrayList<>();
    for (BaseTree.FileInfo f : shuffled(tree.docs, r)) {
      if (f.size() >= 8 * KIB) {
        docs.add(f);
      }
    }
    int edits = Math.min(docs.size(), Math.max(3, docs.size() / 20));
    for (int i = 0; i < edits; i++) {
      BaseTree.FileInfo f = docs.get(i);
      byte[] edited = Content.editText(r, Files.readAllBytes(tree.host(f.fsPath())), 2 + r.nextInt(4));
      String host = stageFile(stage, "edit" + i, edited, false);
      cmd.append("rm ").append(f.fsPath()).append('\n');
      write(cmd, created, host, f.fsPath());
      used += roundUp(edited.length);
    }
    byte[] passwd = Files.readAllBytes(tree.host("/etc/passwd"));
    byte[] newPasswd = (new String(passwd, StandardCharsets.US_ASCII)
        + "app:x:999:999:app:/opt/app:/usr/sbin/nologin\n").getBytes(StandardCharsets.US_ASCII);
    cmd.append("rm /etc/passwd\n");
    write(cmd, created, stageFile(stage, "passwd", newPasswd, false), "/etc/passwd");
    used += roundUp(newPasswd.length);

    // the application itself: binaries, libraries, docs, one model, a config
    long app = Math.min((long) (diskSize * 0.13 * scale), available - used);
    if (app < 64 * KIB) {
      throw new IOException("disk image too small for the example application (" + free + " bytes free)");
    }
    long model = app * 40 / 100;
    write(cmd, created, stageLarge(stage, "model", Content.Kind.MODEL, model, r), APP + "/models/model.bin");
    long bins = app * 35 / 100;
    long appd = Math.min(bins / 3, 4 * MIB);
    write(cmd, created, stageLarge(stage, "appd", Content.Kind.BINARY, appd, r), APP + "/bin/appd");
    bins -= roundUp(appd);
    for (int i = 0; bins > 4 * KIB; i++) {
      long s = Math.min(bins, 16 * KIB + r.nextLong(2 * MIB));
      write(cmd, created, stageLarge(stage, "lib" + i, Content.Kind.BINARY, s, r),
          APP + "/lib/libapp" + i + ".so." + (1 + r.nextInt(3)));
      bins -= roundUp(s);
    }
    long text = app * 22 / 100;
    for (int i = 0; text > 4 * KIB; i++) {
      long s = Math.min(text, 2 * KIB + r.nextLong(256 * KIB));
      write(cmd, created, stageLarge(stage, "doc" + i, Content.Kind.TEXT, s, r), APP + "/share/doc/doc" + i + ".txt");
      text -= roundUp(s);
    }
    byte[] conf = Content.config(r, "/etc/app/app.conf", 1500);
    write(cmd, created, stageFile(stage, "appconf", conf, false), "/etc/app/app.conf");

    for (String p : created) {
      pin(cmd, p, false);
    }
    edit(work, "customise.cmd", cmd, disk);
  }

  /** Runs the debugfs commands {@code cmd} (kept as {@code work/name}) on {@code image}, then checks its size. */
  private void edit(Path work, String name, CharSequence cmd, Path image) throws IOException, InterruptedException {
    Path cmdFile = work.resolve(name);
    Files.writeString(cmdFile, cmd, StandardCharsets.US_ASCII);
    E2fsTools.debugfs(work, work, cmdFile, image);
    checkSize(image);
  }

  private static void write(StringBuilder cmd, List<String> created, String host, String fsPath) {
    cmd.append("write ").append(host).append(' ').append(fsPath).append('\n');
    created.add(fsPath);
  }

  private static String stageFile(Path stage, String name, byte[] data, boolean exec) throws IOException {
    Path p = stage.resolve(name);
    Files.write(p, data);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(exec ? "rwxr-xr-x" : "rw-r--r--"));
    return "stage/" + name;
  }

  private static String stageLarge(Path stage, String name, Content.Kind kind, long size, SplittableRandom r)
      throws IOException {
    Path p = stage.resolve(name);
    Content.write(p, kind, size, r);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(
        kind == Content.Kind.BINARY ? "rwxr-xr-x" : "rw-r--r--"));
    return "stage/" + name;
  }

  private static <T> List<T> shuffled(List<T> in, SplittableRandom r) {
    List<T> l = new ArrayList<>(in);
    for (int i = l.size() - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      T t = l.get(i);
      l.set(i, l.get(j));
      l.set(j, t);
    }
    return l;
  }

  private void checkSize(Path image) throws IOException {
    long size = Files.size(image);
    if (size < diskSize) {
      Sparse.finish(image, diskSize);
    } else if (size > diskSize) {
      throw new IOException(image.getFileName() + " is " + size + " bytes, expected " + diskSize);
    }
  }
}
