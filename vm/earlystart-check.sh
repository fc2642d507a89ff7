#!/usr/bin/env bash
# vm/earlystart-check.sh OUTDIR OVERLAY_DIR [MOUNT OPTIONS...]: the customised VM of vm/build.sh OUTDIR
# early-started by hand: `earlystart serve OVERLAY_DIR` (app.overlay in it) over an emulated link
# (EARLYSTART_RATE, default 38mbit; EARLYSTART_DELAY one way, default 10ms), `earlystart mount` of it
# against OUTDIR/base, then vm/resume-check.sh on the mount: QEMU resumes from the mounted memory.img,
# disk.img and vmstate, and the app's first answer is checked. Prints the mount time, QEMU's timings
# and the mount's status. Extra arguments go to `earlystart mount` (e.g. --trace-out T).
# Made before `earlystart launch` existed; kept because figures in bench/RESULTS.md were taken with it
# (launch does all of this in one process).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
[ $# -ge 2 ] || { echo "usage: vm/earlystart-check.sh OUTDIR OVERLAY_DIR [mount options...]" >&2; exit 2; }
out=$(cd "$1" && pwd); overlays=$(cd "$2" && pwd); shift 2
es="$root/bin/earlystart"
work=$(mktemp -d /tmp/earlystart-check.XXXXXX)
mkdir -p "$work/mnt"
"$es" serve "$overlays" --port 0 --rate "${EARLYSTART_RATE:-38mbit}" --delay "${EARLYSTART_DELAY:-10ms}" \
  > "$work/serve.log" 2>&1 &
server=$!
cleanup() {
  fusermount -u "$work/mnt" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$here/lib.sh"
port=$(vm_serve_port "$work/serve.log")
[ -n "$port" ] || { cat "$work/serve.log" >&2; exit 1; }
t0=$(date +%s%N)
"$es" mount --base-disk "$out/base/disk.img" --base-memory "$out/base/memory.img" \
  --source "es://127.0.0.1:$port/app.overlay" --cache-dir "$work/cache" "$work/mnt" "$@" > /dev/null
t1=$(date +%s%N)
echo "mount returned after $(( (t1 - t0) / 1000000 )) ms"
VM_KERNEL="$out/kernel/vmlinuz" VM_INITRD="$out/initramfs.cpio.gz" VM_EXPECT="$(cat "$out/expected-answer.txt")" \
  "$here/resume-check.sh" "$work/mnt"
"$es" status "$work/mnt"
