#!/usr/bin/env bash
# vm/run.sh [--fresh] VMDIR: boots the test VM of VMDIR (disk VMDIR/disk.img, RAM in the file
# VMDIR/memory.img, shared) and waits for its marker on the serial console. QEMU keeps running; save
# it with vm/save.sh RUNDIR, or stop it with: kill $(cat RUNDIR/qemu.pid).
#
# An existing VMDIR/memory.img holds a saved VM: booting over it would destroy it, so it is an error
# unless --fresh is given (which deletes memory.img and vmstate first).
# Environment: VM_KERNEL, VM_INITRD (default VMDIR/../kernel/vmlinuz, VMDIR/../initramfs.cpio.gz),
# VM_MARKER (default EARLYSTART-BASE-READY), VM_PORT (host port forwarded to the guest's port 80,
# default a free one), VM_RUN_DIR (default a new /tmp/esvm.XXXXXX), VM_BOOT_TIMEOUT (s, default 180).
# Prints RUN_DIR=, PORT=, PID=, BOOT_MS= lines (eval-able).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
fresh=0
if [ "${1:-}" = --fresh ]; then fresh=1; shift; fi
[ $# -eq 1 ] || vm_die "usage: vm/run.sh [--fresh] VMDIR"
vmdir=$(cd "$1" && pwd)
out=$(dirname "$vmdir")
kernel=${VM_KERNEL:-$out/kernel/vmlinuz}
initrd=${VM_INITRD:-$out/initramfs.cpio.gz}
marker=${VM_MARKER:-EARLYSTART-BASE-READY}
[ -f "$vmdir/disk.img" ] || vm_die "no $vmdir/disk.img"
[ -f "$kernel" ] && [ -f "$initrd" ] || vm_die "no kernel $kernel or initrd $initrd"
if [ -e "$vmdir/memory.img" ]; then
  [ $fresh -eq 1 ] || vm_die "$vmdir/memory.img exists (a saved VM?): use --fresh to boot over it"
  rm -f "$vmdir/memory.img" "$vmdir/vmstate" "$vmdir/vm.json"
fi
run=$(vm_run_dir "${VM_RUN_DIR:-}")
port=${VM_PORT:-$(vm_free_port)}
echo "$port" >"$run/port"
echo "$vmdir" >"$run/vmdir"
vm_argv "$kernel" "$initrd" "$vmdir/memory.img" on "$vmdir/disk.img" "" "$port" "$run"
start=$(vm_now_ms)
vm_start "$run"
booted=0
trap '[ $booted -eq 1 ] || vm_kill "$run"' EXIT
trap 'exit 130' INT TERM
vm_wait_marker "$run" "$marker" "${VM_BOOT_TIMEOUT:-180}"
boot_ms=$(( $(vm_now_ms) - start ))
# what vm/save.sh writes next to the saved VM (see native-notes/VM.md, "vm.json")
python3 - "$run/vm.json" "$out" "$kernel" "$initrd" "$VM_RAM" "$VM_APPEND" "$marker" "$VM_DISCARD" "$VM_BALLOON" "$VM_GUEST_AGENT" <<'PY'
import hashlib, json, os, subprocess, sys
path, out, kernel, initrd, ram, append, marker, discard, balloon, agent = sys.argv[1:]
units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
ram_bytes = int(ram[:-1]) * units[ram[-1]] if ram[-1] in units else int(ram)
def rel(p):
    p = os.path.abspath(p)
    r = os.path.relpath(p, os.path.abspath(out))
    return p if r.startswith("..") else r
def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()
version = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
doc = {
    "format": 1,
    "ram": ram,
    "ramBytes": ram_bytes,
    "machine": "pc",
    "accel": "tcg",
    "smp": 1,
    "memoryBackend": {"id": "pc.ram", "type": "memory-backend-file", "file": "memory.img", "share": True},
    "disk": {"file": "disk.img", "format": "raw", "id": "d0", "cache": "writeback", "discard": discard,
             "detectZeroes": "unmap" if discard == "unmap" else "off", "device": "virtio-blk-pci"},
    "net": {"id": "n0", "type": "user", "device": "virtio-net-pci", "romfile": "", "guestPort": 80},
    "devices": ["virtio-blk-pci,drive=d0", "virtio-net-pci,netdev=n0,romfile="]
               + (["virtio-balloon-pci,free-page-reporting=on"] if balloon == "1" else [])
               + (["virtio-serial-pci", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"]
                  if agent == "1" else []),
    "kernel": rel(kernel),
    "kernelSha256": sha256(kernel),
    "initrd": rel(initrd),
    "initrdSha256": sha256(initrd),
    "append": append,
    # device state: a VM saved with the balloon resumes only with it
    **({"balloon": {"device": "virtio-balloon-pci", "freePageReporting": True}} if balloon == "1" else {}),
    **({"guestAgent": {"device": "virtio-serial-pci", "port": "org.qemu.guest_agent.0"}} if agent == "1" else {}),
    "qemu": version,
    "marker": marker,
    # the app's HTTP endpoint (GET), none for the base VM
    "endpoint": "/cgi-bin/infer" if marker == "EARLYSTART-APP-READY" else None,
}
with open(path, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
PY
booted=1
echo "RUN_DIR=$run"
echo "PORT=$port"
echo "PID=$(vm_pid "$run")"
echo "BOOT_MS=$boot_ms"
