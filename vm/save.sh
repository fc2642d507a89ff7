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
