#!/usr/bin/env bash
# vm/resume-check.sh VMDIR: resumes the saved customised VM of VMDIR (disk.img, memory.img, vmstate,
# vm.json) in a fresh QEMU and checks its first HTTP answer against the one computed on the host from
# VMDIR/disk.img (md5 of the model the app serves). Prints the answer and the times from QEMU start.
#
# The saved files are not modified: RAM is a private (share=off) copy-on-write mapping of memory.img
# (of a copy of it when the VM has the free-page-reporting balloon, since QEMU 7.2 punches reported
# pages out of the file even then) and the disk is opened with snapshot=on (guest writes go to a
# temporary file).
# Environment: VM_KERNEL, VM_INITRD (default: vm.json's kernel/initrd relative to VMDIR/..),
# VM_RESUME_SHARE=on (write guest RAM back to memory.img), VM_RESUME_DISK=rw (write to disk.img),
# VM_EXPECT (the expected answer, instead of computing it), VM_ANSWER_TIMEOUT (s, default 120),
# VM_PORT, VM_RUN_DIR (kept when given: serial.log, qemu.log, qmp.log, argv).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || vm_die "usage: vm/resume-check.sh VMDIR"
vmdir=$(cd "$1" && pwd)
for f in disk.img memory.img vmstate vm.json; do [ -f "$vmdir/$f" ] || vm_die "no $vmdir/$f"; done
field() { python3 -c 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$vmdir/vm.json" "$1"; }
resolve() { case $1 in /*) echo "$1" ;; *) echo "$(dirname "$vmdir")/$1" ;; esac; }
kernel=${VM_KERNEL:-$(resolve "$(field kernel)")}
initrd=${VM_INITRD:-$(resolve "$(field initrd)")}
VM_RAM=$(field ram)
VM_APPEND=$(field append)
VM_BALLOON=$(python3 -c 'import json, sys; print(1 if json.load(open(sys.argv[1])).get("balloon") else 0)' "$vmdir/vm.json")
VM_GUEST_AGENT=$(python3 -c 'import json, sys; print(1 if json.load(open(sys.argv[1])).get("guestAgent") else 0)' "$vmdir/vm.json")
VM_DISCARD=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("disk", {}).get("discard", "unmap"))' "$vmdir/vm.json")
share=${VM_RESUME_SHARE:-off}
drive_opts=",snapshot=on"
[ "${VM_RESUME_DISK:-}" != rw ] || drive_opts=""
expected=${VM_EXPECT:-}
if [ -z "$expected" ] && [ -n "$(field endpoint)" ]; then expected=$(vm_model_answer "$vmdir/disk.img"); fi
run=$(vm_run_dir "${VM_RUN_DIR:-}")
port=${VM_PORT:-$(vm_free_port)}
trap 'vm_kill "$run"; [ -n "${VM_RUN_DIR:-}" ] || rm -rf "$run"' EXIT
trap 'exit 130' INT TERM
memory=$vmdir/memory.img
if [ "$VM_BALLOON" = 1 ] && [ "$share" = off ]; then
  # QEMU 7.2 punches the pages a guest reports free out of the RAM file even with share=off: a private
  # copy keeps the saved memory.img as it is (sparse, ~60 MiB allocated: well under a second)
  memory=$run/memory.img
  cp --sparse=always "$vmdir/memory.img" "$memory"
fi
vm_argv "$kernel" "$initrd" "$memory" "$share" "$vmdir/disk.img" "$drive_opts" "$port" "$run" defer
t0=$(vm_now_ms)
vm_start "$run"
if ! vm_qmp --pid "$(vm_pid "$run")" "$run/qmp.sock" resume "$vmdir/vmstate" 2>"$run/qmp.log"; then
  cat "$run/qmp.log" "$run/qemu.log" >&2
  vm_die "resume failed"
fi
step() { echo $(( $(sed -n "s/^qmp: $1 //p" "$run/qmp.log") - t0 )); }
endpoint=$(field endpoint)
if [ -z "$endpoint" ]; then
  # the base VM serves nothing: check that it keeps running
  sleep 2
  status=$(vm_qmp "$run/qmp.sock" cmd query-status 2>/dev/null) || vm_die "QEMU died after cont: $(cat "$run/qemu.log")"
  case $status in *'"running"'*) ;; *) vm_die "VM not running after cont: $status" ;; esac
  echo "timing (ms from QEMU start): QMP connected $(step connected), incoming done (paused) $(step paused), running $(step running)"
  echo "resume check OK (no endpoint: still running 2 s after cont)"
  exit 0
fi
answer=$(vm_http "$port" "$endpoint" "${VM_ANSWER_TIMEOUT:-120}" "$run") || { cat "$run/qemu.log" >&2; vm_die "no answer"; }
t_answer=$(vm_now_ms)
echo "answer:   $answer"
echo "expected: $expected"
echo "timing (ms from QEMU start): QMP connected $(step connected), incoming done (paused) $(step paused), running $(step running), first answer $(( t_answer - t0 ))"
vm_qmp "$run/qmp.sock" quit 2>/dev/null || true
vm_wait_exit "$run" 10 || true
if [ "$answer" != "$expected" ]; then
  vm_die "resume check FAILED: the answer is not the expected one"
fi
echo "resume check OK"
