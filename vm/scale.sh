#!/usr/bin/env bash
# vm/scale.sh VMDIR WORKDIR [ROUNDS]: time and peak RSS of what earlystart does with a built VM
# (vm/build.sh or vm/debian: VMDIR/base, VMDIR/app, VMDIR/kernel), one line per run, ROUNDS (3) times:
#   create-built    earlystart create of app against base, the base index built (its .esidx removed first)
#   create-cached   the same with the index cached beside the base images
#   synthesize      earlystart synthesize of that overlay from the local file (no link), fsync included
#   launch          earlystart launch of the overlay served by `earlystart serve` (EARLYSTART_RATE,
#                   default 0, unlimited; EARLYSTART_DELAY, default 0ms): the launch JVM is the mount
#                   process (FUSE, cache, fetcher; QEMU is its child, counted apart). Its VmHWM (peak
#                   RSS) is read from /proc when the app has answered and again when the stream is
#                   complete, and QEMU's VmHWM at the same moment.
# Times and RSS of create and synthesize come from /usr/bin/time -f '%e %M' (wall seconds, max RSS KiB).
# Needs the jar (bin/earlystart), /usr/bin/time, curl, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
es="$root/bin/earlystart"
[ $# -ge 2 ] && [ $# -le 3 ] || { echo "usage: vm/scale.sh VMDIR WORKDIR [ROUNDS]" >&2; exit 2; }
vm=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)
rounds=${3:-3}
. "$here/lib.sh"
if [ -f "$vm/initramfs.cpio.gz" ]; then initrd=$vm/initramfs.cpio.gz path=/cgi-bin/infer; else initrd=$vm/kernel/initrd.img path=/; fi
expected=$(cat "$vm/expected-answer.txt")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
timed() { # NAME CMD...: runs CMD under /usr/bin/time, prints NAME, seconds and max RSS in MB
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >"$work/$name.log" 2>&1 \
    || { cat "$work/$name.log" >&2; exit 1; }
  read -r s kb <"$work/time.txt"
  printf '%-14s %7.2f s  peak RSS %5d MB\n' "$name" "$s" $((kb / 1024))
}
hwm() { awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$1/status"; }
overlay=$work/app.overlay
create_args=(create -q --base-disk "$vm/base/disk.img" --base-memory "$vm/base/memory.img" --disk "$vm/app/disk.img"
             --memory "$vm/app/memory.img" --vmstate "$vm/app/vmstate" --vm-config "$vm/app/vm.json" -o "$overlay")
echo "VM $vm: disk $(du -h --apparent-size "$vm/app/disk.img" | cut -f1) ($(du -h "$vm/app/disk.img" | cut -f1) allocated), memory $(du -h --apparent-size "$vm/app/memory.img" | cut -f1) ($(du -h "$vm/app/memory.img" | cut -f1) allocated); $(nproc) cores"
mkdir -p "$work/served"
for r in $(seq "$rounds"); do
  rm -f "$vm/base/disk.img.esidx" "$vm/base/memory.img.esidx"
  timed create-built "$es" "${create_args[@]}"
  timed create-cached "$es" "${create_args[@]}"
  rm -rf "$work/synth"
  timed synthesize "$es" synthesize -q --base-disk "$vm/base/disk.img" --base-memory "$vm/base/memory.img" \
    "$overlay" -o "$work/synth"
  rm -rf "$work/synth"
  cp "$overlay" "$work/served/app.overlay"
  "$es" serve "$work/served" --port 0 --rate "${EARLYSTART_RATE:-0}" --delay "${EARLYSTART_DELAY:-0ms}" \
    >"$work/serve.log" 2>&1 &
  spid=$!
  pids+=("$spid")
  sport=$(vm_serve_port "$work/serve.log")
  [ -n "$sport" ] || { cat "$work/serve.log" >&2; exit 1; }
  rm -rf "$work/cache"
  port=$(vm_free_port)
  t0=$(vm_now_ms)
  "$es" launch --base-disk "$vm/base/disk.img" --base-memory "$vm/base/memory.img" \
    --source "es://127.0.0.1:$sport/app.overlay" --cache-dir "$work/cache" --kernel "$vm/kernel/vmlinuz" \
    --initrd "$initrd" --port "$port" >"$work/launch.log" 2>&1 &
  lpid=$!
  pids+=("$lpid")
  vm_wait_resumed "$work/launch.log" "$lpid"
  a=$(vm_http "$port" "$path" 120)
  t1=$(vm_now_ms)
  [ "$a" = "$expected" ] || { echo "launch: wrong answer '$a'" >&2; exit 1; }
  qpid=$(cat "$work/cache/run/qemu.pid")
  at_answer="$(hwm "$lpid") MB (QEMU $(hwm "$qpid") MB)"
  deadline=$(( $(vm_now_ms) + 600000 ))
  until grep -q '"state": *"complete"' "$work/cache/mnt/status" 2>/dev/null; do
    [ "$(vm_now_ms)" -lt "$deadline" ] || { echo "launch: stream not complete after 600 s" >&2; exit 1; }
    sleep 0.2
  done
  t2=$(vm_now_ms)
  printf '%-14s answer %.2f s, stream complete %.2f s; launch JVM (mount) peak RSS %s at the answer, %d MB (QEMU %d MB) at completion\n' \
    launch "$(awk -v ms=$((t1 - t0)) 'BEGIN {print ms / 1000}')" "$(awk -v ms=$((t2 - t0)) 'BEGIN {print ms / 1000}')" \
    "$at_answer" "$(hwm "$lpid")" "$(hwm "$qpid")"
  kill -TERM "$lpid"; wait "$lpid" 2>/dev/null || true
  kill -TERM "$spid"; wait "$spid" 2>/dev/null || true
  pids=()
done
