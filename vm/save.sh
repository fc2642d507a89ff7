#!/usr/bin/env bash
# vm/save.sh RUNDIR: saves the VM that vm/run.sh started in RUNDIR next to its disk (VMDIR):
# QMP x-ignore-shared, stop, migrate to "exec:cat > VMDIR/vmstate", poll query-migrate, quit. The RAM
# stays in VMDIR/memory.img (shared file backend); only the device state (~0.4 MB) is streamed.
# Then writes VMDIR/vm.json, and makes zero blocks of memory.img and disk.img holes (content
# unchanged, less space). Prints SAVE_MS= (QMP connect to QEMU exited).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || vm_die "usage: vm/save.sh RUNDIR"
run=$1
vmdir=$(cat "$run/vmdir")
vm_alive "$run" || vm_die "QEMU of $run is not running"
# With free-page reporting (the balloon), the guest reports what it freed in batches about 2 s apart
# and QEMU punches those pages out of memory.img: wait until its allocation stops shrinking (no
# shrink for VM_SETTLE_QUIET s, default 5) or VM_SETTLE_MAX s (default 60) have passed.
if grep -q virtio-balloon "$run/argv"; then
  t0=$(vm_now_ms)
  first=$(stat -c %b "$vmdir/memory.img")
  low=$first
  quiet_since=$t0
  while [ $(( $(vm_now_ms) - quiet_since )) -lt $(( ${VM_SETTLE_QUIET:-5} * 1000 )) ] \
      && [ $(( $(vm_now_ms) - t0 )) -lt $(( ${VM_SETTLE_MAX:-60} * 1000 )) ]; do
    sleep 0.5
    now=$(stat -c %b "$vmdir/memory.img")
    if [ "$now" -lt "$low" ]; then low=$now; quiet_since=$(vm_now_ms); fi
  done
  echo "SETTLE_MS=$(( $(vm_now_ms) - t0 ))"
  echo "SETTLE_FREED_KB=$(( (first - low) / 2 ))"
fi
start=$(vm_now_ms)
rm -f "$vmdir/vmstate"
if ! vm_qmp "$run/qmp.sock" save "$vmdir/vmstate" 2>"$run/qmp-save.log"; then
  cat "$run/qmp-save.log" >&2
  vm_die "save failed"
fi
vm_wait_exit "$run" 30 || vm_die "QEMU did not exit after quit"
save_ms=$(( $(vm_now_ms) - start ))
[ -s "$vmdir/vmstate" ] || vm_die "no device state written to $vmdir/vmstate"
cp "$run/vm.json" "$vmdir/vm.json"
fallocate --dig-holes "$vmdir/memory.img"
fallocate --dig-holes "$vmdir/disk.img"
echo "SAVE_MS=$save_ms"
