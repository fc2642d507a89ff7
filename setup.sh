#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: installs what earlystart needs, builds it, and runs the
# demo on generated example images: create an overlay, inspect --verify it, synthesize the customised
# VM from it, and check the result byte for byte against the originals; then early start: serve the
# overlay over an emulated 38 Mbit/s link, mount the customised images at once, read them while they
# stream in, and compare them with the originals. Last, the real test VM (vm/demo.sh): built, its
# start-up recorded, and its first answer timed early-started vs synthesized-then-resumed.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-packages.sh
mvn -B -q package -DskipTests
demo=${EARLYSTART_DEMO_DIR:-work/demo}
size=${EARLYSTART_DEMO_SIZE:-64M}
rm -rf "$demo/out"
mkdir -p "$demo"
es=bin/earlystart
echo "== example images ($size disk + $size memory) in $demo"
$es example-images "$demo/images" --seed 1 --disk-size "$size" --memory-size "$size"
img="$demo/images"
echo "== create"
$es create --base-disk "$img/base-disk.img" --base-memory "$img/base-memory.img" \
  --disk "$img/disk.img" --memory "$img/memory.img" --vmstate "$img/vmstate" --vm-config "$img/vm.json" \
  -o "$demo/app.overlay"
echo "== inspect --verify"
$es inspect --verify "$demo/app.overlay"
echo "== synthesize"
$es synthesize --base-disk "$img/base-disk.img" --base-memory "$img/base-memory.img" "$demo/app.overlay" \
  -o "$demo/out"
echo "== verify"
for f in disk.img memory.img vmstate vm.json; do
  cmp "$img/$f" "$demo/out/$f"
  echo "$f: identical to the customised original"
done
echo "== early start: serve at 38 Mbit/s (20 ms RTT), mount, read while streaming"
mnt="$demo/mnt"
cache="$demo/cache"
mkdir -p "$mnt"
rm -rf "$cache"
serve_log="$demo/serve.log"
$es serve "$demo" --port 0 --rate 38mbit --delay 10ms > "$serve_log" 2>&1 &
server=$!
cleanup() {
  fusermount -u "$mnt" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do grep -q "serving" "$serve_log" && break; sleep 0.1; done
port=$(sed -n 's/.*on 127.0.0.1:\([0-9]*\).*/\1/p' "$serve_log")
[ -n "$port" ] || { cat "$serve_log" >&2; exit 1; }
start=$(date +%s%N)
$es mount --base-disk "$img/base-disk.img" --base-memory "$img/base-memory.img" \
  --source "es://127.0.0.1:$port/app.overlay" --cache-dir "$cache" "$mnt"
mounted=$(date +%s%N)
echo "mount returned after $(( (mounted - start) / 1000000 )) ms (two JVM starts, base check, manifest)"
# the last MiB of memory.img: far behind in the stream, so this read demands its segments
tail -c 1048576 "$mnt/memory.img" | cmp - <(tail -c 1048576 "$img/memory.img")
echo "read the last MiB of memory.img $(( ($(date +%s%N) - mounted) / 1000000 )) ms later, ahead of the stream"
for f in disk.img memory.img vmstate vm.json; do
  cmp "$img/$f" "$mnt/$f"
  echo "$f through the mount: identical to the customised original"
done
$es status "$mnt"
fusermount -u "$mnt"
echo "== the real VM: early start vs synthesize-then-resume (vm/demo.sh; builds the VM, about a minute)"
vm/demo.sh "${EARLYSTART_VM_DEMO_DIR:-work/vm-demo}"
