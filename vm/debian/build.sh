#!/usr/bin/env bash
# vm/debian/build.sh OUTDIR: builds the BASE VM of issue 12 (a Debian 12 system with systemd) and
# saves it with `earlystart capture`. See vm/debian/README.md.
#
#   OUTDIR/cache/rootfs-KEY.tar    mmdebstrap's root file system; KEY hashes the package list and the
#                                  mirrors, so a rebuild with the same list is offline
#   OUTDIR/kernel/vmlinuz, OUTDIR/kernel/initrd.img   the distribution's kernel and initramfs-tools
#                                  initrd, taken from the tree's /boot (direct kernel boot)
#   OUTDIR/base/                   disk.img (8 GiB sparse ext4), memory.img (1 GiB), vmstate, vm.json
#   OUTDIR/logs/base-boot.log      the serial console of the boot
#
# DEBVM_STAGE=rootfs|disk|boot|capture stops after that stage (default: all, i.e. also the resume check).
# A complete build is not repeated while build.sh, rootfs/, qga.py, vm/lib.sh, the package list and the settings are the
# same (OUTDIR/.built); VM_FORCE=1 rebuilds.
# DEBVM_CACHE: where the rootfs tarball is cached (default OUTDIR/cache); DEBVM_SMP (1), DEBVM_RAM (1G),
# DEBVM_DISK_SIZE (8G), DEBVM_BOOT_TIMEOUT (s, 300), VM_RUN_DIR, VM_RESUME_RUN_DIR, VM_KEEP_WORK.
# DEBVM_SEMANTIC=0 builds the VM without the semantic-gap features (for the paper's four configurations):
# the root mounted without discard, the drive ignoring discards, no balloon, capture without trim
# (recorded in OUTDIR/semantic, which app.sh follows).
# Needs root (the tree keeps its owners for mke2fs -d; mmdebstrap runs maintainer scripts in a chroot),
# mmdebstrap, e2fsprogs, qemu-system-x86, python3, and a built jar (mvn -o -B -q package -DskipTests).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
[ $# -eq 1 ] || vm_die "usage: vm/debian/build.sh OUTDIR"
[ "$(id -u)" -eq 0 ] || vm_die "vm/debian/build.sh needs root (mmdebstrap chroot, file owners in the tree)"
mkdir -p "$1"
out=$(cd "$1" && pwd)
cache=${DEBVM_CACHE:-$out/cache}
mkdir -p "$cache" "$out/logs" "$out/kernel"
stage=${DEBVM_STAGE:-all}
export LC_ALL=C
unset MKE2FS_CONFIG

suite=bookworm
variant=minbase
# systemd as init, udev, the Debian kernel (its initramfs-tools initrd), the guest agent (guest-fstrim),
# e2fsprogs (fsck of the root), iproute2 (ip, for the network under systemd-networkd), dbus (logind,
# hostnamectl), procps (sysctl, free, ps: minbase has none of them): what a real system has
packages=(systemd-sysv udev linux-image-amd64 initramfs-tools qemu-guest-agent e2fsprogs iproute2 dbus procps)

# The mirrors apt on this machine uses (deb822 .sources or one-line lists), as one-line entries.
mirrors() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sed -n 's/^[[:space:]]*\(deb [^#]*debian[^#]*\)/\1/p' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      /^Types:/ { t = $2 } /^URIs:/ { u = $2 } /^Suites:/ { s = ""; for (i = 2; i <= NF; i++) s = s " " $i }
      /^Components:/ { c = ""; for (i = 2; i <= NF; i++) c = c " " $i }
      /^$/ { flush() } END { flush() }
      function flush(  n, a, i) { if (t == "deb" && u != "") { n = split(s, a, " "); for (i = 1; i <= n; i++) print "deb " u " " a[i] c }; t = u = s = c = "" }
    ' "$f"
  done
}
mapfile -t mirror_lines < <(mirrors | grep " $suite" | sort -u)
[ ${#mirror_lines[@]} -gt 0 ] || vm_die "no $suite mirror in /etc/apt/sources.list*"

# --- 1. root file system (mmdebstrap, cached) -------------------------------------------------------
key=$(printf '%s\n' "$suite" "$variant" "${packages[@]}" "${mirror_lines[@]}" | sha256sum | cut -c1-16)
tarball=$cache/rootfs-$key.tar
if [ ! -s "$tarball" ]; then
  echo "vm: mmdebstrap $suite ($variant + ${packages[*]})" >&2
  t0=$(vm_now_ms)
  include=$(IFS=,; echo "${packages[*]}")
  # --format=tar: mmdebstrap guesses the format from the name's suffix, and *.tar.tmp is a directory
  mmdebstrap --variant="$variant" --format=tar --include="$include" \
    --customize-hook='chroot "$1" apt-get clean' \
    "$suite" "$tarball.tmp" "${mirror_lines[@]}" >"$out/logs/mmdebstrap.log" 2>&1 \
    || { tail -n 30 "$out/logs/mmdebstrap.log" >&2; vm_die "mmdebstrap failed (log: $out/logs/mmdebstrap.log)"; }
  mv "$tarball.tmp" "$tarball"
  echo "vm: mmdebstrap took $(( ($(vm_now_ms) - t0) / 1000 )) s, $(( $(stat -c %s "$tarball") >> 20 )) MiB" >&2
fi
[ "$stage" != rootfs ] || exit 0

# up to date: OUTDIR/base was captured and checked from the same tarball, vm/ files and settings
# (what the base is made of: not app.sh, app-pkg or model.py, which only the customised VM uses)
build_id=$( (cd "$here/.." && find debian/build.sh debian/rootfs debian/qga.py lib.sh qmp.py -type f | sort | xargs sha256sum
            echo "$key|${DEBVM_RAM:-1G}|${DEBVM_SMP:-1}|${DEBVM_DISK_SIZE:-8G}|${DEBVM_SEMANTIC:-1}") | sha256sum | cut -c1-16)
if [ "$stage" = all ] && [ -z "${VM_FORCE:-}" ] && [ "$(cat "$out/.built" 2>/dev/null)" = "$build_id" ]; then
  missing=0
  for f in kernel/vmlinuz kernel/initrd.img base/disk.img base/memory.img base/vmstate base/vm.json; do
    [ -s "$out/$f" ] || missing=1
  done
  if [ $missing -eq 0 ]; then echo "vm: $out is up to date (VM_FORCE=1 rebuilds)" >&2; exit 0; fi
fi
rm -f "$out/.built"

# --- 2. the tree, the kernel and initrd, the disk -------------------------------------------------
work=$out/.work
tree=$work/tree
base=$out/base
disk_size=${DEBVM_DISK_SIZE:-8G}
t0=$(vm_now_ms)
rm -rf "$work"
mkdir -p "$tree" "$base"
tar -xf "$tarball" -C "$tree" --numeric-owner
# our configuration (vm/debian/rootfs): fstab with discard, the sysctl and the page-reporting order
# for free-page reporting, systemd-networkd for the NIC, the ready marker
cp -a --no-preserve=ownership "$here/rootfs/." "$tree/"
semantic=${DEBVM_SEMANTIC:-1}
[ "$semantic" = 1 ] || sed -i 's/,discard,/,/' "$tree/etc/fstab"
echo "$semantic" >"$out/semantic"
chroot "$tree" systemctl enable -q systemd-networkd.service earlystart-ready.service
# no root password: a login on the serial console for debugging (a local test VM)
chroot "$tree" passwd -qd root
k=$(ls "$tree"/boot/vmlinuz-* | head -n1)
i=$(ls "$tree"/boot/initrd.img-* | head -n1)
[ -f "$k" ] && [ -f "$i" ] || vm_die "no /boot/vmlinuz-* or /boot/initrd.img-* in the tree"
cp "$k" "$out/kernel/vmlinuz"
cp "$i" "$out/kernel/initrd.img"
echo "${k##*/vmlinuz-}" >"$out/kernel/version"
rm -f "$base/disk.img" "$base/memory.img" "$base/vmstate" "$base/vm.json"
# as root, mke2fs -d keeps the tree's owners; 8 GiB apparent, only the tree allocated
mke2fs -q -t ext4 -L root -d "$tree" "$base/disk.img" "$disk_size"
echo "vm: tree + kernel + disk in $(( ($(vm_now_ms) - t0) / 1000 )) s; disk.img $(du -h --apparent-size "$base/disk.img" | cut -f1) apparent, $(du -h "$base/disk.img" | cut -f1) allocated" >&2
[ -n "${VM_KEEP_WORK:-}" ] || rm -rf "$work"
[ "$stage" != disk ] || exit 0

# --- 3. boot to multi-user (TCG), the guest agent answers -------------------------------------------
VM_RAM=${DEBVM_RAM:-1G}
# -smp 1: on this 2-core host, 2 vCPUs booted no faster under TCG (README.md) and took both cores
smp=${DEBVM_SMP:-1}
VM_APPEND="root=/dev/vda rw console=ttyS0 nokaslr panic=1 quiet"
if [ "$semantic" = 1 ]; then VM_BALLOON=1 VM_DISCARD=unmap; else VM_BALLOON=0 VM_DISCARD=ignore; fi
kernel=$out/kernel/vmlinuz
initrd=$out/kernel/initrd.img
run=$(vm_run_dir "${VM_RUN_DIR:-}")
rrun=
# the run directories are kept only when given (VM_RUN_DIR, VM_RESUME_RUN_DIR)
cleanup() {
  vm_kill "$run"
  [ -n "${VM_RUN_DIR:-}" ] || rm -rf "$run"
  [ -z "$rrun" ] || [ -n "${VM_RESUME_RUN_DIR:-}" ] || rm -rf "$rrun"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port=$(vm_free_port)
vm_argv "$kernel" "$initrd" "$base/memory.img" on "$base/disk.img" "" "$port" "$run"
# vm_argv's -smp 1 -> $smp; plus the guest agent's channel, after the balloon (PCI slots follow the
# command line's order: a resume must add the same devices in the same order)
for n in "${!VM_ARGV[@]}"; do [ "${VM_ARGV[$n]}" != -smp ] || VM_ARGV[$((n + 1))]=$smp; done
qga_args=(-chardev "socket,id=qga0,path=$run/qga.sock,server=on,wait=off"
          -device virtio-serial-pci -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0)
VM_ARGV+=("${qga_args[@]}")
t0=$(vm_now_ms)
vm_start "$run"
vm_wait_marker "$run" EARLYSTART-BASE-READY "${DEBVM_BOOT_TIMEOUT:-300}"
boot_ms=$(( $(vm_now_ms) - t0 ))
cp "$run/serial.log" "$out/logs/base-boot.log"
echo "vm: booted to multi-user in $boot_ms ms (-smp $smp): $(grep -a EARLYSTART-BASE-READY "$run/serial.log" | tr -d '\r')" >&2
qga() { python3 "$here/qga.py" "$run/qga.sock" "$@"; }
qga ping >&2 || vm_die "the guest agent does not answer"
# what the semantic gap needs, as the guest sees it (guest-exec through the agent)
qga exec 'echo "root: $(findmnt -no OPTIONS /)"; echo "vm.percpu_pagelist_high_fraction=$(cat /proc/sys/vm/percpu_pagelist_high_fraction)";
  echo "page_reporting_order=$(cat /sys/module/page_reporting/parameters/page_reporting_order)";
  echo "modules: $(lsmod | grep -Eo "^virtio_(balloon|console|net|blk)" | sort | tr "\n" " ")";
  echo "net: $(ip -4 -o addr show scope global | tr -s " " | cut -d" " -f2,4)"; echo "systemd: $(systemctl is-system-running)";
  echo "memory (KiB): $(grep -E "^(MemTotal|MemFree|Cached|Buffers|AnonPages|Slab):" /proc/meminfo | tr -s " " | tr "\n" " ")"' \
  | sed 's/^/vm: guest: /' | tee "$out/logs/base-guest.txt" >&2
[ "$stage" != boot ] || { vm_kill "$run"; exit 0; }

# --- 4. capture (earlystart capture: trim through the agent, wait for free-page reporting) ----------
repo=$(cd "$here/../.." && pwd)
echo "vm: before capture: memory.img $(du -m "$base/memory.img" | cut -f1) MiB allocated, disk.img $(du -m "$base/disk.img" | cut -f1) MiB" >&2
t0=$(vm_now_ms)
# vm.json from QMP: machine, RAM, CPUs, drive, balloon, the agent's port, kernel/initrd (+ SHA-256) and
# command line, guest port
trim=()
[ "$semantic" = 1 ] || trim=(--no-trim)
"$repo/bin/earlystart" capture --qmp "$run/qmp.sock" --out "$base" "${trim[@]}" | tee "$out/logs/base-capture.txt" >&2
vm_wait_exit "$run" 30
echo "vm: capture took $(( $(vm_now_ms) - t0 )) ms; memory.img $(du -m "$base/memory.img" | cut -f1) MiB allocated, disk.img $(du -m "$base/disk.img" | cut -f1) MiB, vmstate $(stat -c %s "$base/vmstate") B" >&2
[ "$stage" != capture ] || exit 0

# --- 5. resume check: earlystart resume on a copy of memory.img, the guest agent answers ------------
check=$out/.resume-check
vm_resumable_copy "$base" "$check/vm"
rrun=$(vm_run_dir "${VM_RESUME_RUN_DIR:-}")
# resume adds the guest agent's port from vm.json's "guestAgent" (on $rrun/qga.sock), after the balloon
"$repo/bin/earlystart" resume "$check/vm" --kernel "$kernel" --initrd "$initrd" --run-dir "$rrun" -- -snapshot \
  >"$out/logs/base-resume.txt" 2>&1 &
rpid=$!
trap 'kill $rpid 2>/dev/null || true; cleanup' EXIT
vm_wait_resumed "$out/logs/base-resume.txt" "$rpid" || vm_die "resume failed"
grep '^resumed ' "$out/logs/base-resume.txt" >&2
qga() { python3 "$here/qga.py" "$rrun/qga.sock" "$@"; }
qga ping >&2 || vm_die "the resumed guest's agent does not answer"
sleep 5
status=$(python3 "$here/../qmp.py" "$rrun/qmp.sock" cmd query-status 2>/dev/null) || vm_die "QEMU died after resume"
case $status in *'"running"'*) ;; *) vm_die "not running 5 s after resume: $status" ;; esac
qga exec 'echo "resumed guest: uptime $(cut -d" " -f1 /proc/uptime) s, $(systemctl is-system-running)"' >&2
kill "$rpid"
wait "$rpid" || true
rm -rf "$check"
echo "vm: resume check OK (running 5 s after resume, guest agent answers)" >&2
echo "$build_id" >"$out/.built"
