package io.earlystart.cli.example;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The directory tree of the base "OS" (written to a host directory for {@code mke2fs -d}):
 * /bin and /lib binaries, /usr/share/doc text, /etc configs and one large /var/cache/big.pack.
 */
final class BaseTree {

  static final String BIG_PACK = "/var/cache/big.pack";
  static final long KIB = 1024;
  static final long MIB = 1024 * 1024;

  private static final String[] BIN_NAMES = ("bash cat chmod chown cp date dd df dmesg echo false grep gzip "
      + "hostname kill ln login ls mkdir mknod more mount mv ps pwd rm rmdir sed sh sleep stty su sync "
      + "tar touch true umount uname zcat systemctl journalctl ip ss less nano vi find xargs awk sort "
      + "uniq wc head tail cut tr tee env id which stat readlink").split(" ");
  private static final String[] SYLLABLES = ("ac bz cur dbus el fo gn ht io jp kr lz mo nc ox pc qt re ss "
      + "tk ud vo wx xz yu zl crypt ssl audit cap pam acl attr blk uuid mount sys").split(" ");
  private static final String[] MODULE_AREAS = {"drivers/net", "drivers/block", "drivers/gpu", "fs", "net", "crypto"};
  private static final String[] DOC_NAMES = {"README", "changelog", "copyright", "NEWS", "TODO"};
  private static final String[] ETC_FILES = {"hostname", "hosts", "fstab", "passwd", "group", "shadow",
    "resolv.conf", "os-release", "issue", "motd", "ssh/sshd_config", "ssh/ssh_config", "default/grub",
    "apt/sources.list", "sysctl.conf", "security/limits.conf", "systemd/journald.conf", "systemd/system.conf",
    "network/interfaces", "profile", "bash.bashrc", "login.defs", "nsswitch.conf", "crontab"};

  /** A regular file of the tree: its path inside the file system and its size. */
  record FileInfo(String fsPath, long size) {
  }

  final List<FileInfo> libs = new ArrayList<>();
  final List<FileInfo> docs = new ArrayList<>();
  final List<FileInfo> all = new ArrayList<>();
  private final Set<String> names = new HashSet<>();
  private final Path root;
  private final SplittableRandom r;

  private BaseTree(Path root, SplittableRandom r) {
    this.root = root;
    this.r = r;
  }

  /** Writes about {@code osBytes} of files (big.pack of {@code bigBytes} included) under {@code root}. */
  static BaseTree write(Path root, SplittableRandom r, long osBytes, long bigBytes) throws IOException {
    BaseTree t = new BaseTree(root, r);
    Files.createDirectories(root);
    long etc = t.writeEtc();
    long rest = Math.max(0, osBytes - bigBytes - etc);
    String kernel = "6.1.0-" + (10 + r.nextInt(20)) + "-amd64";
    t.writeBinaries(rest * 15 / 100, "/bin", BIN_NAMES, "", true);
    long libBudget = rest * 50 / 100;
    t.writeBinaries(libBudget * 70 / 100, "/lib/x86_64-linux-gnu", null, ".so", false);
    t.writeBinaries(libBudget * 30 / 100, "/lib/modules/" + kernel + "/kernel", null, ".ko", false);
    t.writeDocs(rest * 35 / 100);
    t.add(BIG_PACK, Content.Kind.BINARY, bigBytes, false);
    return t;
  }

  /** Host path of an fs path inside this tree. */
  Path host(String fsPath) {
    return root.resolve(fsPath.substring(1));
  }

  private long writeEtc() throws IOException {
    long total = 0;
    for (String name : ETC_FILES) {
      String p = "/etc/" + name;
      byte[] data;
      if (name.equals("passwd")) {
        data = ("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
            + "bin:x:2:2:bin:/bin:/usr/sbin/nologin\nsys:x:3:3:sys:/dev:/usr/sbin/nologin\n"
            + "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n").getBytes(StandardCharsets.US_ASCII);
      } else if (name.equals("hostname")) {
        data = ("base-" + Integer.toHexString(r.nextInt(1 << 16)) + "\n").getBytes(StandardCharsets.US_ASCII);
      } else {
        data = Content.config(r, p, 200 + r.nextInt(3800));
      }
      put(p, data, name.equals("shadow") ? "rw-r-----" : "rw-r--r--");
      total += roundUp(data.length);
    }
    return total;
  }

  private void writeBinaries(long budget, String dir, String[] fixedNames, String suffix, boolean exec)
      throws IOException {
    int n = 0;
    while (budget > 4 * KIB) {
      long size = Math.min(logUniform(KIB, 2 * MIB), budget);
      String name;
      if (fixedNames != null) {
        String base = fixedNames[n % fixedNames.length];
        name = n < fixedNames.length ? base : base + (n / fixedNames.length + 1);
      } else {
        name = uniqueStem() + suffix + (suffix.equals(".so") ? "." + (1 + r.nextInt(9)) : "");
        if (suffix.equals(".ko")) {
          name = MODULE_AREAS[r.nextInt(MODULE_AREAS.length)] + "/" + name;
        }
      }
      n++;
      String p = dir + "/" + name;
      if (!names.contains(p)) {
        add(p, Content.Kind.BINARY, size, exec);
        budget -= roundUp(size);
      }
    }
  }

  private void writeDocs(long budget) throws IOException {
    while (budget > 4 * KIB) {
      String pkg = uniqueStem();
      int docs = 1 + r.nextInt(3);
      for (int i = 0; i < docs && budget > 4 * KIB; i++) {
        long size = Math.min(logUniform(KIB, 256 * KIB), budget);
        add("/usr/share/doc/" + pkg + "/" + DOC_NAMES[i], Content.Kind.TEXT, size, false);
        budget -= roundUp(size);
      }
    }
  }

  private String uniqueStem() {
    while (true) {
      String s = "lib" + SYLLABLES[r.nextInt(SYLLABLES.length)] + SYLLABLES[r.nextInt(SYLLABLES.length)];
      if (r.nextInt(3) == 0) {
        s += r.nextInt(10);
      }
      if (names.add("stem:" + s)) {
        return s;
      }
    }
  }

  private void add(String fsPath, Content.Kind kind, long size, boolean exec) throws IOException {
    Path h = host(fsPath);
    Files.createDirectories(h.getParent());
    if (size <= 4 * MIB) {
      byte[] data = switch (kind) {
        case BINARY -> Content.binary(r, (int) size);
        case TEXT -> Content.text(r, (int) size);
        case MODEL -> Content.model(r, (int) size);
      };
      Files.write(h, data);
    } else {
      Content.write(h, kind, size, r);
    }
    record(fsPath, size, exec ? "rwxr-xr-x" : "rw-r--r--");
  }

  private void put(String fsPath, byte[] data, String perms) throws IOException {
    Path h = host(fsPath);
    Files.createDirectories(h.getParent());
    Files.write(h, data);
    record(fsPath, data.length, perms);
  }

  private void record(String fsPath, long size, String perms) throws IOException {
    Files.setPosixFilePermissions(host(fsPath), PosixFilePermissions.fromString(perms));
    names.add(fsPath);
    FileInfo fi = new FileInfo(fsPath, size);
    all.add(fi);
    if (fsPath.startsWith("/lib/")) {
      libs.add(fi);
    } else if (fsPath.startsWith("/usr/share/doc/")) {
      docs.add(fi);
    }
  }

  private long logUniform(long min, long max) {
    double l = Math.log(min) + r.nextDouble() * (Math.log(max) - Math.log(min));
    return Math.max(min, Math.min(max, (long) Math.exp(l)));
  }

  static long roundUp(long size) {
    return (size + 4095) / 4096 * 4096;
  }
}
