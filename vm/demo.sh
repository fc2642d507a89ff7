#!/usr/bin/env bash
# vm/demo.sh [--debian] WORKDIR: the real VM early-started, next to classic synthesis, over an emulated
# 38 Mbit/s link with 20 ms RTT. Builds the VM (the busybox test VM: vm/build.sh WORKDIR/vm, about a
# minute; with --debian the Debian 12 VM of vm/debian: build.sh + app.sh WORKDIR/vm, about 5 minutes the
# first time, as root), makes its overlay, records the VM's start-up once with `launch --trace-out` from
# the local overlay, reorders the overlay by it, then times the app's first answer: early start
# (`earlystart launch` from `earlystart serve`) vs synthesize-then-resume (`earlystart synthesize` from the
# same server, then `earlystart resume` of the result). Each answer is checked.
# EARLYSTART_RATE (38mbit) and EARLYSTART_DELAY (10ms, one way) set the link.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
es="$root/bin/earlystart"
kind=test
[ "${1:-}" != --debian ] || { kind=debian; shift; }
[ $# -eq 1 ] || { echo "usage: vm/demo.sh [--debian] WORKDIR" >&2; exit 2; }
mkdir -p "$1"
work=$(cd "$1" && pwd)
vm="$work/vm"
rate=${EARLYSTART_RATE:-38mbit}
delay=${EARLYSTART_DELAY:-10ms}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
. "$here/lib.sh"
if [ $kind = debian ]; then
  initrd=$vm/kernel/initrd.img app_path=/
else
  initrd=$vm/initramfs.cpio.gz app_path=/cgi-bin/infer
fi
answer() { vm_http "$1" "$app_path" 120; } # PORT: the app's answer, retried until it comes
launch() { # SOURCE CACHE PORT LOG [extra...]: starts launch in the background, waits for "resumed"
  local source=$1 cache=$2 port=$3 log=$4; shift 4
  rm -rf "$cache"
  "$es" launch --base-disk "$vm/base/disk.img" --base-memory "$vm/base/memory.img" --source "$source" \
    --cache-dir "$cache" --kernel "$vm/kernel/vmlinuz" --initrd "$initrd" --port "$port" "$@" \
    > "$log" 2>&1 &
  launched=$!
  pids+=("$launched")
  vm_wait_resumed "$log" "$launched"
}
stop() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }

if [ $kind = debian ]; then
  echo "== the Debian 12 VM (vm/debian/build.sh and app.sh $vm; log $work/build.log)"
  { "$here/debian/build.sh" "$vm" && "$here/debian/app.sh" "$vm"; } > "$work/build.log" 2>&1 \
    || { tail -20 "$work/build.log" >&2; exit 1; }
else
  echo "== the test VM (vm/build.sh $vm)"
  "$here/build.sh" "$vm" > "$work/build.log" 2>&1 || { tail -20 "$work/build.log" >&2; exit 1; }
fi
expected=$(cat "$vm/expected-answer.txt")
mkdir -p "$work/offset" "$work/ordered"
echo "== overlay of the customised VM against its base"
"$es" create -q --base-disk "$vm/base/disk.img" --base-memory "$vm/base/memory.img" --disk "$vm/app/disk.img" \
  --memory "$vm/app/memory.img" --vmstate "$vm/app/vmstate" --vm-config "$vm/app/vm.json" \
  -o "$work/offset/app.overlay"
echo "== recording the VM's start-up (launch --trace-out, local overlay)"
port=$(vm_free_port)
launch "$work/offset/app.overlay" "$work/cache-record" "$port" "$work/record.log" --trace-out "$work/startup.trace"
[ "$(answer "$port")" = "$expected" ] || { echo "wrong answer while recording" >&2; exit 1; }
stop "$launched"
"$es" reorder "$work/offset/app.overlay" --trace "$work/startup.trace" -o "$work/ordered/app.overlay" | tail -1

serve_log="$work/serve.log"
"$es" serve "$work/ordered" --port 0 --rate "$rate" --delay "$delay" > "$serve_log" 2>&1 &
pids+=("$!")
sport=$(vm_serve_port "$serve_log")
[ -n "$sport" ] || { cat "$serve_log" >&2; exit 1; }
source="es://127.0.0.1:$sport/app.overlay"
size=$(stat -c %s "$work/ordered/app.overlay")

echo "== early start: earlystart launch from $source ($rate, $delay each way)"
port=$(vm_free_port)
t0=$(vm_now_ms)
launch "$source" "$work/cache-early" "$port" "$work/early.log"
a=$(answer "$port"); t1=$(vm_now_ms)
[ "$a" = "$expected" ] || { echo "early start: wrong answer '$a'" >&2; exit 1; }
fetched=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes"]["fetched"])' "$work/cache-early/mnt/status")
stop "$launched"
early=$((t1 - t0))

echo "== synthesize, then resume: earlystart synthesize from $source, then earlystart resume"
rm -rf "$work/synth"
t2=$(vm_now_ms)
"$es" synthesize -q --base-disk "$vm/base/disk.img" --base-memory "$vm/base/memory.img" "$source" -o "$work/synth"
port=$(vm_free_port)
"$es" resume "$work/synth" --kernel "$vm/kernel/vmlinuz" --initrd "$initrd" --port "$port" \
  > "$work/synth-resume.log" 2>&1 &
resumed=$!
pids+=("$resumed")
vm_wait_resumed "$work/synth-resume.log" "$resumed"
a=$(answer "$port"); t3=$(vm_now_ms)
[ "$a" = "$expected" ] || { echo "synthesize, then resume: wrong answer '$a'" >&2; exit 1; }
stop "$resumed"
synth=$((t3 - t2))

echo
echo "first answer of the customised VM over $rate with $delay each way (overlay $((size / 1000000)) MB):"
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
printf '  %-34s %6s s  (%s MB fetched by then)\n' "early start (earlystart launch)" "$(secs "$early")" \
  "$((fetched / 1000000))"
printf '  %-34s %6s s  (%s MB fetched)\n' "synthesize, then resume" "$(secs "$synth")" "$((size / 1000000))"
printf '  answer: %s\n' "$expected"
