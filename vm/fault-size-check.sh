#!/usr/bin/env bash
# vm/fault-size-check.sh WORKDIR: after vm/demo.sh WORKDIR, the first answer with QEMU's RAM faults in
# 2 MiB windows (launch --ram-faults 2m, QEMU as it comes) and in 4 KiB pages (--ram-faults 4k, launch's
# default: LD_PRELOAD of cli/src/main/c/nohugepage.c and -o max_readahead=4096), each in offset order and in access order (a trace recorded with the same
# fault size), over 38 Mbit/s + 10 ms each way, two runs each. Every answer is checked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$(dirname "$here")"
[ $# -eq 1 ] || { echo "usage: vm/fault-size-check.sh WORKDIR (of vm/demo.sh)" >&2; exit 2; }
W=$(cd "$1" && pwd); vm=$W/vm; es=bin/earlystart; expected=$(cat $vm/expected-answer.txt)
. "$here/lib.sh"
answer() { vm_http "$1" /cgi-bin/infer 60; }
run() { # SOURCE TAG extra...
  local src=$1 tag=$2; shift 2
  local port cache=$W/cache-f-$tag log=$W/launch-f-$tag.log
  port=$(vm_free_port); rm -rf $cache
  local t0=$(date +%s%N)
  $es launch --base-disk $vm/base/disk.img --base-memory $vm/base/memory.img --source "$src" --cache-dir $cache \
    --kernel $vm/kernel/vmlinuz --initrd $vm/initramfs.cpio.gz --port $port "$@" > $log 2>&1 &
  local lp=$!
  vm_wait_resumed $log $lp
  local a; a=$(answer $port); local t1=$(date +%s%N)
  [ "$a" = "$expected" ] || { echo "WRONG ANSWER $tag: $a"; cat $log; }
  local f; f=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes"]["fetched"])' $cache/mnt/status)
  echo "$tag: $(( (t1 - t0) / 1000000 )) ms to the answer from launch start, $((f / 1000)) kB fetched; $(grep -o 'QEMU start to running [0-9.]* [a-z]*' $log)"
  kill -TERM $lp; wait $lp 2>/dev/null || true
}
SMALL=(--ram-faults 4k)
# a trace with each fault size, local source
mkdir -p $W/ordered-small $W/ordered-big
run $W/offset/app.overlay record-small "${SMALL[@]}" --trace-out $W/startup-small.trace > /dev/null
$es reorder $W/offset/app.overlay --trace $W/startup-small.trace -o $W/ordered-small/app.overlay | tail -1
run $W/offset/app.overlay record-big --ram-faults 2m --trace-out $W/startup-big.trace > /dev/null
$es reorder $W/offset/app.overlay --trace $W/startup-big.trace -o $W/ordered-big/app.overlay | tail -1
servers=()
trap 'kill "${servers[@]}" 2>/dev/null || true' EXIT
for d in offset ordered-big ordered-small; do
  $es serve $W/$d --port 0 --rate 38mbit --delay 10ms > $W/serve-$d.log 2>&1 &
  servers+=("$!")
done
sleep 2
p() { vm_serve_port $W/serve-$1.log; }
for i in 1 2; do
  run es://127.0.0.1:$(p offset)/app.overlay "offset-2MiB-faults-$i" --ram-faults 2m
  run es://127.0.0.1:$(p offset)/app.overlay "offset-4KiB-faults-$i" "${SMALL[@]}"
  run es://127.0.0.1:$(p ordered-big)/app.overlay "access-order-2MiB-faults-$i" --ram-faults 2m
  run es://127.0.0.1:$(p ordered-small)/app.overlay "access-order-4KiB-faults-$i" "${SMALL[@]}"
done

