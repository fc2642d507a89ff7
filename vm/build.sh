#!/usr/bin/env bash
# vm/build.sh OUTDIR: builds the real test VM of earlystart and saves it twice (native-notes/VM.md).
#
#   OUTDIR/kernel/vmlinuz        Debian 12's kernel (the package linux-image-amd64 depends on)
#   OUTDIR/initramfs.cpio.gz     busybox-static, the virtio/ext4 modules, /init (vm/initramfs/init)
#   OUTDIR/base/                 the base VM booted to its login prompt, saved:
#                                disk.img, memory.img (RAM, 256 MiB, sparse), vmstate, vm.json
#   OUTDIR/app/                  the customised VM (base disk + the demo app under /opt/app) booted,
#                                app started, one warm-up request served, saved: the same four files
#   OUTDIR/logs/                 serial consoles of the two boots
#   OUTDIR/expected-answer.txt   the app's first answer, computed on the host (vm/expected-answer.sh)
#
# Downloads (two .deb files, ~72 MB) are cached in $EARLYSTART_VM_CACHE (default OUTDIR/cache); with
# the cache filled the build runs offline. Idempotent: when OUTDIR was built from the same vm/ files it
# does nothing (VM_FORCE=1 rebuilds). VM_BUILD_CHECK=0 skips the final vm/resume-check.sh.
# The disks are byte-identical from build to build before the VMs boot; memory.img, vmstate and what
# the guest writes to its disk differ each time: an overlay belongs to the build of its base.
# Needs: apt-get (first run), dpkg-deb, kmod (modinfo), cpio, gzip, e2fsprogs, python3, curl,
# qemu-system-x86. Runs as any user.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
[ $# -eq 1 ] || vm_die "usage: vm/build.sh OUTDIR"
mkdir -p "$1"
out=$(cd "$1" && pwd)
cache=${EARLYSTART_VM_CACHE:-$out/cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
disk_size=${VM_DISK_SIZE:-256M}
# the app's install downloads this many MiB from the host and deletes them (vm/app/etc/rc.d/S40install)
download_mb=${VM_DOWNLOAD_MB:-100}
export LC_ALL=C
unset MKE2FS_CONFIG
# fixed times for mke2fs/debugfs and the generated trees: the images only differ where the VM ran
export E2FSPROGS_FAKE_TIME=1700000000
fs_uuid=4c1e5a7d-0e57-4a6b-9d1c-ea51757a0001

# every file under vm/ but those the build never reads: the Debian VM's, the demo's and the measurements'
build_id=$( (cd "$here" && find . -type f ! -name '*.pyc' ! -path './debian/*' ! -name '*.md' ! -name demo.sh \
              ! -name semantic-gap.sh ! -name scale.sh ! -name fault-size-check.sh ! -name earlystart-check.sh \
              | sort | xargs sha256sum
            echo "$VM_RAM|$VM_APPEND|$disk_size|$VM_BALLOON|$VM_DISCARD|$VM_GUEST_AGENT|$download_mb") | sha256sum | cut -c1-16)
outputs=(kernel/vmlinuz initramfs.cpio.gz expected-answer.txt base/disk.img base/memory.img base/vmstate base/vm.json
         app/disk.img app/memory.img app/vmstate app/vm.json)
if [ -z "${VM_FORCE:-}" ] && [ "$(cat "$out/.built" 2>/dev/null)" = "$build_id" ]; then
  missing=0
  for f in "${outputs[@]}"; do [ -s "$out/$f" ] || missing=1; done
  if [ $missing -eq 0 ]; then echo "vm: $out is up to date (VM_FORCE=1 rebuilds)"; exit 0; fi
fi
rm -f "$out/.built"
t_build=$(vm_now_ms)
work=$out/.work
rm -rf "$work"
mkdir -p "$work" "$out/kernel" "$out/logs"
runs=()
server_pid=
cleanup() {
  local r
  for r in "${runs[@]}"; do vm_kill "$r"; rm -rf "$r"; done
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- downloads: apt-get download + dpkg-deb -x, nothing installed --------------------------------
# fetch PACKAGE: unpacks PACKAGE's .deb (downloaded once) into $cache/PACKAGE; echoes that directory.
fetch() {
  local pkg=$1 dest=$cache/$1
  if [ ! -f "$dest/.unpacked" ]; then
    rm -rf "$dest" "$cache/deb/$pkg"
    mkdir -p "$cache/deb/$pkg"
    # as root, apt drops to the _apt user, which cannot write here: stay root for the download
    local sandbox=()
    [ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
    (cd "$cache/deb/$pkg" && apt-get download -q "${sandbox[@]}" "$pkg" >&2) \
      || vm_die "apt-get download $pkg failed (run apt-get update?)"
    mkdir -p "$dest"
    dpkg-deb -x "$cache/deb/$pkg"/*.deb "$dest"
    touch "$dest/.unpacked"
  fi
  echo "$dest"
}
if [ ! -s "$cache/kernel-package" ]; then
  # the kernel image package the metapackage points at, e.g. linux-image-6.1.0-57-amd64
  apt-cache depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}' \
    >"$cache/kernel-package.tmp"
  [ -s "$cache/kernel-package.tmp" ] || vm_die "cannot resolve linux-image-amd64 with apt-cache (apt-get update?)"
  mv "$cache/kernel-package.tmp" "$cache/kernel-package"
fi
kpkg=$(cat "$cache/kernel-package")
kroot=$(fetch "$kpkg")
bbroot=$(fetch busybox-static)
busybox=$bbroot/bin/busybox
kver=$(ls "$kroot/lib/modules")
cp "$kroot/boot/vmlinuz-$kver" "$out/kernel/vmlinuz"
echo "$kpkg $kver" >"$out/kernel/version"
echo "vm: kernel $kver ($kpkg), busybox $("$busybox" | head -n1 | awk '{print $2}')"

# --- initramfs: busybox, modules in load order, /init -----------------------------------------------
moddir=$kroot/lib/modules/$kver
declare -A kofile=()
while IFS= read -r f; do
  n=$(basename "$f"); n=${n%%.ko*}; kofile[${n//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko*')
declare -A builtin=()
while IFS= read -r f; do
  n=$(basename "$f"); n=${n%%.ko*}; builtin[${n//-/_}]=1
done <"$moddir/modules.builtin"
declare -A seen=()
load_order=()
# add_module NAME: NAME after what it depends on (modinfo depends=, and softdep pre:)
add_module() {
  local name=${1//-/_} dep f
  [ -z "${seen[$name]:-}" ] || return 0
  seen[$name]=1
  if [ -n "${builtin[$name]:-}" ]; then echo "vm: $name is built in" >&2; return 0; fi
  f=${kofile[$name]:-}
  [ -n "$f" ] || vm_die "module $name not found in $moddir"
  for dep in $(modinfo -F softdep "$f" | sed -n 's/^pre: *//p') $(modinfo -F depends "$f" | tr ',' ' '); do
    case $dep in
      # an alias: crypto-crc32c is crc32c_generic or crc32c-intel; TCG's default CPU has no SSE4.2,
      # so the generic one
      crypto-*) dep=${dep#crypto-}; [ -n "${kofile[${dep//-/_}_generic]:-}" ] && dep=${dep}_generic ;;
    esac
    add_module "$dep"
  done
  load_order+=("$name")
}
for m in virtio_pci virtio_blk virtio_net virtio_balloon ext4; do add_module "$m"; done
ir=$work/initramfs
mkdir -p "$ir/bin" "$ir/modules" "$ir/dev" "$ir/proc" "$ir/sys" "$ir/newroot"
cp "$busybox" "$ir/bin/busybox"
cp "$here/initramfs/init" "$ir/init"
chmod 755 "$ir/init"
for m in "${load_order[@]}"; do
  f=${kofile[$m]}
  case $f in
    *.ko.xz) xz -dc "$f" >"$ir/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" >"$ir/modules/$m.ko" ;;
    *) cp "$f" "$ir/modules/$m.ko" ;;
  esac
  echo "$m" >>"$ir/modules/load-order"
done
echo "vm: modules in load order: ${load_order[*]}"
find "$ir" -exec touch -h -d "@$E2FSPROGS_FAKE_TIME" {} +
(cd "$ir" && find . | sort | cpio -o -H newc --quiet -R 0:0 --reproducible) | gzip -9 -n >"$out/initramfs.cpio.gz"

# --- file trees and disks ------------------------------------------------------------------------------
bt=$work/base-tree
at=$work/app-tree
mkdir -p "$bt" "$at"
cp -a "$here/rootfs/." "$bt/"
mkdir -p "$bt"/{bin,sbin,dev,proc,sys,tmp,run,root,mnt,opt,var/log,var/www,etc/rc.d}
cp "$busybox" "$bt/bin/busybox"
for a in $("$busybox" --list); do
  [ "$a" = busybox ] || ln -s busybox "$bt/bin/$a"
done
ln -s ../bin/busybox "$bt/sbin/init"
python3 "$here/gen-tree.py" base "$bt"
cp -a "$here/app/." "$at/"
python3 "$here/gen-tree.py" app "$at"
# The download-and-delete of the app's install: random bytes served on the host's loopback for the
# app VM's boot; the guest learns the URL from /opt/app/conf/fetch.conf (this one file of the app disk
# differs from build to build: the port and the checksum).
if [ "$download_mb" -gt 0 ]; then
  mkdir -p "$work/www"
  head -c "$((download_mb << 20))" /dev/urandom >"$work/www/download.bin"
  python3 -c '
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()' "$work/www" >"$work/www.port" 2>"$work/www.log" &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$work/www.port" ] && break; sleep 0.05; done
  [ -s "$work/www.port" ] || vm_die "the download server did not start: $(cat "$work/www.log")"
  printf 'FETCH_URL=http://10.0.2.2:%s/download.bin\nFETCH_MD5=%s\n' "$(cat "$work/www.port")" \
    "$(md5sum <"$work/www/download.bin" | cut -d' ' -f1)" >"$at/opt/app/conf/fetch.conf"
fi
find "$bt" "$at" -exec touch -h -d "@$E2FSPROGS_FAKE_TIME" {} +

# debugfs -w -f CMDS IMAGE, failing on any stderr line but the banner (debugfs exits 0 when a
# command fails)
debugfs_w() {
  debugfs -w -f "$1" "$2" >/dev/null 2>"$work/debugfs.err"
  if grep -v '^debugfs [0-9]' "$work/debugfs.err" >&2; then vm_die "debugfs -f $1 $2 failed"; fi
}
# inode_fixups TREE: debugfs commands giving every file of TREE (and /) owner root and the fixed time;
# mke2fs -d and debugfs write copy owner and ctime from the host, which would make the images depend
# on who built them and when
inode_fixups() {
  (cd "$1" && find . | sed 's|^\.||; s|^$|/|') | while IFS= read -r p; do
    echo "sif $p uid 0"
    echo "sif $p gid 0"
    for f in atime ctime mtime crtime; do echo "sif $p $f @$E2FSPROGS_FAKE_TIME"; done
  done
}
pristine=$work/base-disk.img
mke2fs -q -F -t ext4 -b 4096 -L earlystart -U "$fs_uuid" \
  -E "hash_seed=$fs_uuid,lazy_itable_init=0,lazy_journal_init=0" -d "$bt" "$pristine" "$disk_size" 2>&1 | { grep -v '^Creating regular file' || true; } >&2
# The customised disk is the base disk with the application written into it (debugfs), as an install
# into a running system would: the base files' blocks stay where they are.
inode_fixups "$bt" >"$work/base-fixups.debugfs"
debugfs_w "$work/base-fixups.debugfs" "$pristine"
{
  (cd "$at" && find . -mindepth 1 | sort) | while IFS= read -r p; do
    p=${p#.}
    if [ -L "$at$p" ]; then echo "symlink $p $(readlink "$at$p")"
    elif [ -d "$at$p" ]; then [ -d "$bt$p" ] || echo "mkdir $p"
    else echo "write $at$p $p"
    fi
  done
  inode_fixups "$at"
} >"$work/install.debugfs"
mkdir -p "$out/base" "$out/app"
rm -f "$out"/base/* "$out"/app/*
cp --sparse=always "$pristine" "$work/app-disk.img"
debugfs_w "$work/install.debugfs" "$work/app-disk.img"
e2fsck -fn "$pristine" >"$work/e2fsck.log" 2>&1 || { cat "$work/e2fsck.log"; vm_die "e2fsck: base disk not clean"; }
e2fsck -fn "$work/app-disk.img" >"$work/e2fsck.log" 2>&1 || { cat "$work/e2fsck.log"; vm_die "e2fsck: app disk not clean"; }
cp --sparse=always "$pristine" "$out/base/disk.img"
cp --sparse=always "$work/app-disk.img" "$out/app/disk.img"
expected=$(vm_model_answer "$out/app/disk.img")
echo "$expected" >"$out/expected-answer.txt"
echo "vm: disks built, expected answer: $expected"
t_images=$(vm_now_ms)

# --- boot and save ----------------------------------------------------------------------------------
# boot_and_save NAME MARKER: boots OUTDIR/NAME to MARKER, (app: warm-up request), settles, saves.
boot_and_save() {
  local name=$1 marker=$2 run port answer boot_ms save_ms info
  run=$(vm_run_dir "")
  runs+=("$run")
  info=$(VM_RUN_DIR=$run VM_MARKER=$marker "$here/run.sh" --fresh "$out/$name") || vm_die "boot of the $name VM failed"
  port=$(sed -n 's/^PORT=//p' <<<"$info")
  boot_ms=$(sed -n 's/^BOOT_MS=//p' <<<"$info")
  if [ "$name" = app ] && [ "$download_mb" -gt 0 ]; then
    grep -a '^EARLYSTART-FETCH' "$run/serial.log" | tr -d '\r' | sed 's/^/vm: app install: /'
    grep -qa '^EARLYSTART-FETCHED' "$run/serial.log" || vm_die "the app's download-and-delete failed"
  fi
  if [ "$name" = app ]; then
    answer=$(vm_http "$port" /cgi-bin/infer 60 "$run") || vm_die "no warm-up answer from the app VM"
    [ "$answer" = "$expected" ] || vm_die "warm-up answer \"$answer\" is not \"$expected\""
    echo "vm: app warm-up answer: $answer"
  fi
  # let the guest settle (getty started, boot-time work done) before saving the idle state
  sleep "${VM_SETTLE:-1}"
  info=$("$here/save.sh" "$run") || vm_die "saving the $name VM failed"
  save_ms=$(sed -n 's/^SAVE_MS=//p' <<<"$info")
  cp "$run/serial.log" "$out/logs/$name-boot.log"
  echo "vm: $name booted in ${boot_ms} ms, saved in ${save_ms} ms"
  if grep -q '^SETTLE_MS=' <<<"$info"; then
    echo "vm: $name: free-page reporting settled in $(sed -n 's/^SETTLE_MS=//p' <<<"$info") ms," \
      "memory.img shrank by $(( $(sed -n 's/^SETTLE_FREED_KB=//p' <<<"$info") >> 10 )) MiB meanwhile"
  fi
}
boot_and_save base EARLYSTART-BASE-READY
boot_and_save app EARLYSTART-APP-READY
[ -z "$server_pid" ] || { kill "$server_pid" 2>/dev/null || true; server_pid=; }
t_saved=$(vm_now_ms)
# VM_KEEP_WORK=1 keeps OUTDIR/.work: the trees, debugfs scripts and the disks before their first boot
[ "${VM_KEEP_WORK:-0}" = 1 ] || rm -rf "$work"

nonzero() {
  python3 - "$1" <<'PY'
import sys
z = bytes(4096); n = 0; t = 0
with open(sys.argv[1], "rb") as f:
    for b in iter(lambda: f.read(4096), b""):
        t += 1; n += b != z
print("%.1f MiB non-zero of %.0f MiB" % (n / 256, t / 256))
PY
}
for v in base app; do
  echo "vm: $v: disk.img $(du -h "$out/$v/disk.img" | cut -f1) allocated ($(nonzero "$out/$v/disk.img")), memory.img $(du -h "$out/$v/memory.img" | cut -f1) allocated ($(nonzero "$out/$v/memory.img")), vmstate $(stat -c %s "$out/$v/vmstate") bytes"
done
echo "vm: images $(( (t_images - t_build) / 1000 )) s, boots and saves $(( (t_saved - t_images) / 1000 )) s"

if [ "${VM_BUILD_CHECK:-1}" != 0 ]; then
  "$here/resume-check.sh" "$out/app"
fi
echo "$build_id" >"$out/.built"
echo "vm: built $out in $(( ($(vm_now_ms) - t_build) / 1000 )) s"
