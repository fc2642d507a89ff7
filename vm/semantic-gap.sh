#!/usr/bin/env bash
# vm/semantic-gap.sh [--debian] WORKDIR [ROUNDS]: the overlay of the test VM in the paper's four
# configurations (Ha et al. 2013, "reducing the semantic gap"), and what the install's 100 MiB
# download-and-delete costs in each. Per round it builds the test VM four times (vm/build.sh, ~1 min each):
#   on        VM_SEMANTIC=1: the guest discards deleted blocks, the balloon reports free pages
#   off       VM_SEMANTIC=0: neither (and the drive ignores discards)
#   on-nodl   as on, without the download-and-delete (VM_DOWNLOAD_MB=0)
#   off-nodl  as off, without it
# and measures the customised VM's overlay:
#   baseline       xdelta3 -9 of each whole image against its base, then xz -9 (plus vmstate, vm.json)
#   dedup only     earlystart create on the "off" VM
#   semantic only  earlystart create --no-dedup on the "on" VM
#   both           earlystart create on the "on" VM
# Prints one line per VM and configuration (bytes), then the table of the last round. Each build has
# its own random download and its own guest memory: compare within a round, and across rounds for the
# spread. Extra VM builds: SG_EXTRA="name:ENV=V,ENV=V ..." (e.g. "order9:VM_REPORT_ORDER=9"), one line
# each (the baseline, xz -9 of ~300 MB, only for on and off).
# --debian: the Debian 12 VM of vm/debian (build.sh + app.sh, ~3 min each, as root), on and off only
# (DEBVM_SEMANTIC=1/0; SG_NODL=1 adds the variants without the download-and-delete, DEBVM_FETCH_MIB=0),
# sharing the mmdebstrap tarball and .debs in WORKDIR/cache (DEBVM_CACHE); its baseline gives xdelta3
# its largest source window (-B 2 GiB: a 64 MiB window misses moved data in 8 GiB and 1 GiB images).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
es="$root/bin/earlystart"
kind=test
[ "${1:-}" != --debian ] || { kind=debian; shift; }
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: vm/semantic-gap.sh [--debian] WORKDIR [ROUNDS]" >&2; exit 2; }
mkdir -p "$1"
work=$(cd "$1" && pwd)
rounds=${2:-1}
for t in xdelta3 xz; do command -v $t >/dev/null || { echo "semantic-gap: $t not found" >&2; exit 1; }; done
export EARLYSTART_VM_CACHE=${EARLYSTART_VM_CACHE:-$work/cache}
export DEBVM_CACHE=${DEBVM_CACHE:-$work/cache}
window=()
if [ $kind = debian ]; then
  variants=("on:DEBVM_SEMANTIC=1" "off:DEBVM_SEMANTIC=0")
  [ -z "${SG_NODL:-}" ] || variants+=("on-nodl:DEBVM_SEMANTIC=1,DEBVM_FETCH_MIB=0" "off-nodl:DEBVM_SEMANTIC=0,DEBVM_FETCH_MIB=0")
  window=(-B 2147483648)
else
  variants=("on:VM_SEMANTIC=1" "off:VM_SEMANTIC=0" "on-nodl:VM_SEMANTIC=1,VM_DOWNLOAD_MB=0"
            "off-nodl:VM_SEMANTIC=0,VM_DOWNLOAD_MB=0")
fi
for x in ${SG_EXTRA:-}; do variants+=("$x"); done

build() { # VMDIR ENV...: builds the VM with ENV into VMDIR
  local vm=$1; shift
  if [ $kind = debian ]; then
    env "$@" "$here/debian/build.sh" "$vm" && env "$@" "$here/debian/app.sh" "$vm"
  else
    env "$@" VM_BUILD_CHECK=0 "$here/build.sh" "$vm"
  fi
}
baseline() { # VMDIR OUT: bytes of xdelta3 -9 + xz -9 of app against base
  local vm=$1 out=$2 total=0 f
  mkdir -p "$out"
  for f in disk.img memory.img; do
    xdelta3 -9 -e -f "${window[@]}" -s "$vm/base/$f" "$vm/app/$f" "$out/$f.vcdiff"
    xz -9 -T1 -f "$out/$f.vcdiff"
    total=$((total + $(stat -c %s "$out/$f.vcdiff.xz")))
  done
  for f in vmstate vm.json; do
    xz -9 -T1 -c "$vm/app/$f" >"$out/$f.xz"
    total=$((total + $(stat -c %s "$out/$f.xz")))
  done
  echo "$total"
}
create() { # VMDIR OUT [flags]: bytes of earlystart create's overlay
  local vm=$1 out=$2; shift 2
  "$es" create -q --base-disk "$vm/base/disk.img" --base-memory "$vm/base/memory.img" \
    --disk "$vm/app/disk.img" --memory "$vm/app/memory.img" --vmstate "$vm/app/vmstate" \
    --vm-config "$vm/app/vm.json" -o "$out" "$@"
  stat -c %s "$out"
}
allocated() { echo $(( $(stat -c %b "$1") * 512 )); }

declare -A size
for r in $(seq "$rounds"); do
  for v in "${variants[@]}"; do
    name=${v%%:*}
    vm=$work/r$r/$name
    mkdir -p "$vm"
    # shellcheck disable=SC2046
    build "$vm" $(tr ',' ' ' <<<"${v#*:}") >"$vm.build.log" 2>&1 || { tail -20 "$vm.build.log" >&2; exit 1; }
    size[$name.baseline]=0
    case $name in on|off) size[$name.baseline]=$(baseline "$vm" "$vm/baseline") ;; esac # xz -9 takes minutes
    size[$name.both]=$(create "$vm" "$vm/default.overlay")
    size[$name.nodedup]=$(create "$vm" "$vm/nodedup.overlay" --no-dedup)
    echo "round $r $name: disk.img $(allocated "$vm/app/disk.img") allocated, memory.img $(allocated "$vm/app/memory.img")" \
      "allocated; baseline ${size[$name.baseline]}, create ${size[$name.both]}, create --no-dedup ${size[$name.nodedup]}"
  done
  mb() { python3 -c "print('%.1f' % ($1 / 1e6))"; }
  ratio() { python3 -c "print('%.3f' % ($1 / $2))"; }
  b=${size[off.baseline]}
  echo
  echo "round $r: the customised $kind VM's overlay (MB, and against the baseline of the VM without the semantic features)"
  echo "| configuration | with the download-and-delete | without it | its cost |"
  echo "|---|---|---|---|"
  row() { # LABEL VM KEY
    local with=${size[$2.$3]} without=${size[$2-nodl.$3]:-}
    if [ -n "$without" ]; then
      echo "| $1 | $(mb "$with") ($(ratio "$with" "$b")) | $(mb "$without") | $(mb $((with - without))) |"
    else
      echo "| $1 | $(mb "$with") ($(ratio "$with" "$b")) | | |"
    fi
  }
  echo "| baseline (xdelta3 -9 + xz -9) | $(mb "$b") (1.000) | | |"
  echo "| (baseline of the VM with the semantic features) | $(mb "${size[on.baseline]}") ($(ratio "${size[on.baseline]}" "$b")) | | |"
  row "dedup only (semantic features off)" off both
  row "semantic only (create --no-dedup)" on nodedup
  row "both" on both
  row "neither (create --no-dedup, semantic features off)" off nodedup
  echo
done
