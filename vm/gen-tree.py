#!/usr/bin/env python3
"""Generates the file trees of the test VM's disks, deterministically from a seed.

  gen-tree.py base DIR   "OS" files of the base disk: libraries, documentation, locale-like data,
                         apt's package lists (a few MB; busybox, /etc and the boot scripts are
                         copied in by build.sh)
  gen-tree.py app DIR    the application installed on the customised disk under /opt/app: code,
                         libraries, assets and several models (about 50 MB)

Content kinds, chosen to compress like their real counterparts:
  model weights  float32-like: 3 random bytes and one constrained sign/exponent byte per value
                 (xz saves ~15%, as on real weights)
  libraries      "machine code" drawn from a small per-library vocabulary of 8-byte words mixed with
                 random runs (compresses to roughly half)
  text           words from a generated vocabulary (compresses well)
Bytes come from SHAKE-256 and random.Random with integer seeds: the same on every Python >= 3.9.
"""
import hashlib
import os
import random
import sys

KIB = 1024
MIB = 1024 * 1024


def shake(label, n):
    return hashlib.shake_256(label.encode()).digest(n)


# sign/exponent byte of float32 values between about -4 and 4 (0x3b..0x40 and 0xbb..0xc0)
EXPONENTS = bytes([0x3B, 0x3C, 0x3D, 0x3D, 0x3E, 0x3E, 0x3E, 0x3F, 0x3F, 0x3F, 0x3F, 0x40,
                   0xBB, 0xBC, 0xBD, 0xBD, 0xBE, 0xBE, 0xBE, 0xBF, 0xBF, 0xBF, 0xBF, 0xC0])
EXP_TABLE = bytes(EXPONENTS[i % len(EXPONENTS)] for i in range(256))


def model_bytes(label, n):
    header = ("EARLYSTART-MODEL %s float32 %d\n" % (label, n // 4)).encode().ljust(256, b"\0")
    body = bytearray(shake("model:" + label, n - len(header)))
    body[3::4] = body[3::4].translate(EXP_TABLE)
    return header + bytes(body)


def library_bytes(label, n, rnd):
    vocab = [shake("lib:%s:%d" % (label, i), 8) for i in range(384)]
    out = bytearray(b"\x7fELF\x02\x01\x01\0" + shake("hdr:" + label, 56))
    while len(out) < n:
        if rnd.random() < 0.6:  # data, relocation and string tables: random
            out += shake("run:%s:%d" % (label, len(out)), rnd.randrange(64, 1024))
        else:  # code: a skewed choice of common instruction words
            out += b"".join(rnd.choices(vocab, cum_weights=CUM, k=256))
    return bytes(out[:n])


CUM = []
_acc = 0.0
for _i in range(384):
    _acc += 1.0 / (1 + _i) ** 0.8
    CUM.append(_acc)


def words(seed, count):
    rnd = random.Random(seed)
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12, 9, 8, 7.5, 7, 6.7, 6.3, 6, 6, 4.3, 4, 2.8, 2.8, 2.4, 2.4, 2.2, 2, 2, 1.9, 1.5, 1, .8, .2, .2, .1, .1]
    vocab = ["".join(rnd.choices(letters, weights, k=rnd.randint(2, 10))) for _ in range(4000)]
    cum, acc = [], 0.0
    for i in range(len(vocab)):
        acc += 1.0 / (1 + i)
        cum.append(acc)
    return rnd, vocab, cum


def text_bytes(seed, n, title):
    rnd, vocab, cum = words(seed, n)
    lines = [title, "=" * len(title), ""]
    size = sum(len(x) + 1 for x in lines)
    while size < n:
        line = " ".join(rnd.choices(vocab, cum_weights=cum, k=rnd.randint(6, 14)))
        line = line[0].upper() + line[1:] + "."
        lines.append(line)
        size += len(line) + 1
        if rnd.random() < 0.15:
            lines.append("")
            size += 1
    return ("\n".join(lines) + "\n").encode()[:n]


def put(root, rel, data, mode=0o644):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    return len(data)


def base(root):
    rnd = random.Random(1001)
    total = 0
    libs = ["libc.so.6", "libm.so.6", "libssl.so.3", "libcrypto.so.3", "libz.so.1", "libstdc++.so.6",
            "libsystemd.so.0", "libgcc_s.so.1", "libpcre2-8.so.0", "libzstd.so.1"]
    for i, name in enumerate(libs):
        total += put(root, "usr/lib/x86_64-linux-gnu/" + name,
                     library_bytes("base-" + name, rnd.randrange(150, 450) * KIB, rnd), 0o755)
    for i, pkg in enumerate(["coreutils", "busybox", "libc6", "openssl", "zlib1g", "e2fsprogs",
                             "iproute2", "netbase", "base-files", "tzdata"]):
        total += put(root, "usr/share/doc/%s/copyright" % pkg, text_bytes(2000 + i, rnd.randrange(8, 40) * KIB,
                                                                       pkg + " copyright"))
        total += put(root, "usr/share/doc/%s/changelog" % pkg, text_bytes(3000 + i, rnd.randrange(30, 90) * KIB,
                                                                       pkg + " changelog"))
    total += put(root, "usr/share/zoneinfo/tzdata.zi", text_bytes(4000, 110 * KIB, "tzdata"))
    total += put(root, "usr/lib/locale/C.utf8/LC_CTYPE", shake("locale-ctype", 340 * KIB))
    total += put(root, "usr/share/misc/magic.mgc", library_bytes("magic", 600 * KIB, rnd))
    # apt's package lists, which the app's install deletes (rm -rf /var/lib/apt/lists/*, as images do)
    lists = "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_"
    total += put(root, lists + "InRelease", text_bytes(7000, 150 * KIB, "bookworm InRelease"))
    total += put(root, lists + "main_binary-amd64_Packages", text_bytes(7001, 1536 * KIB, "Packages"))
    return total


def app(root):
    rnd = random.Random(2002)
    a = "opt/app/"
    total = 0
    # models: classifier-small is the one the endpoint serves (see conf/app.conf)
    for name, size in [("classifier-small", 5 * MIB), ("classifier-large", 16 * MIB),
                       ("embeddings", 12 * MIB), ("detector", 8 * MIB)]:
        total += put(root, a + "models/%s.bin" % name, model_bytes(name, size))
        total += put(root, a + "models/%s.json" % name,
                     ('{"name": "%s", "format": "float32", "values": %d, "sha": "%s"}\n'
                      % (name, (size - 256) // 4, hashlib.sha256(name.encode()).hexdigest())).encode())
    for name in ["libtorch_cpu.so", "libonnxruntime.so.1", "libopenblas.so.0", "libprotobuf.so.32",
                 "libgomp.so.1", "libjpeg.so.62", "libpng16.so.16", "libtokenizers.so"]:
        total += put(root, a + "lib/" + name, library_bytes("app-" + name, rnd.randrange(400, 1100) * KIB, rnd),
                     0o755)
    for i in range(40):
        total += put(root, a + "lib/python/app/module%02d.py" % i,
                     text_bytes(5000 + i, rnd.randrange(4, 30) * KIB, "module %d" % i))
    for i in range(24):
        total += put(root, a + "assets/img/tile%02d.png" % i,
                     b"\x89PNG\r\n\x1a\n" + shake("png%d" % i, rnd.randrange(40, 160) * KIB))
    for i in range(12):
        total += put(root, a + "assets/i18n/strings-%02d.txt" % i,
                     text_bytes(6000 + i, rnd.randrange(60, 140) * KIB, "strings %d" % i))
    total += put(root, a + "assets/vocab.txt", text_bytes(7000, 900 * KIB, "vocabulary"))
    return total


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("base", "app"):
        sys.exit("usage: gen-tree.py base|app DIR")
    total = {"base": base, "app": app}[sys.argv[1]](sys.argv[2])
    print("%s tree: %.1f MiB generated in %s" % (sys.argv[1], total / MIB, sys.argv[2]))


if __name__ == "__main__":
    main()
