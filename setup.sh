#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: installs what earlystart needs, builds it, and runs the
# demo on generated example images: create an overlay, inspect --verify it, synthesize the customised
# VM from it, and check the result byte for byte against the originals.
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
