# vm/lib.sh: shared by the test VM scripts (sourced, not run). See native-notes/VM.md.
#
# A VM directory (OUTDIR/base, OUTDIR/app) holds disk.img, memory.img, vmstate and vm.json; the kernel
# and initramfs they boot with are shared: OUTDIR/kernel/vmlinuz and OUTDIR/initramfs.cpio.gz.
# A run directory holds what one QEMU process needs at run time: qmp.sock, serial.log, qemu.log,
# qemu.pid, port, argv. Its path must be short: a Unix socket path has at most 107 bytes.

VM_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_QEMU=${VM_QEMU:-qemu-system-x86_64}
# Guest RAM: the memory backend's size and -m must match on save and resume.
VM_RAM=${VM_RAM:-256M}
# VM_SEMANTIC=1 (default): the guest tells the host what it no longer uses (native-notes/holes.md):
# it mounts its disk with discard (rootflags=discard, honoured by vm/initramfs/init), so a deleted
# file's blocks become holes in disk.img; and it has a virtio-balloon with free-page reporting, so
# free RAM is punched out of memory.img (the report unit: page_reporting.page_reporting_order, which
# the guest's rcS writes to sysfs, since this kernel ignores it on the command line). VM_SEMANTIC=0
# builds the same VM without either, for the measurement of what they save.
VM_SEMANTIC=${VM_SEMANTIC:-1}
VM_REPORT_ORDER=${VM_REPORT_ORDER:-0}
# VM_APPEND_EXTRA: added to the default kernel command line (e.g. init_on_free=1, for a measurement)
# VM_GUEST_AGENT=1: a virtio-serial port org.qemu.guest_agent.0 on RUNDIR/qga.sock, for a guest that runs
# qemu-ga (the busybox test VM does not; it trims by itself)
VM_GUEST_AGENT=${VM_GUEST_AGENT:-0}
# nokaslr: the kernel lands at the same physical address on every boot, so base and customised VM
# share their kernel pages at the same offsets of memory.img. panic=1 + -no-reboot: a broken boot
# ends QEMU instead of hanging until the marker times out.
if [ "$VM_SEMANTIC" = 1 ]; then
  VM_APPEND=${VM_APPEND:-console=ttyS0 nokaslr panic=1 quiet rootflags=discard page_reporting.page_reporting_order=$VM_REPORT_ORDER${VM_APPEND_EXTRA:+ $VM_APPEND_EXTRA}}
  VM_BALLOON=${VM_BALLOON:-1}
  VM_DISCARD=${VM_DISCARD:-unmap}
else
  VM_APPEND=${VM_APPEND:-console=ttyS0 nokaslr panic=1 quiet${VM_APPEND_EXTRA:+ $VM_APPEND_EXTRA}}
  VM_BALLOON=${VM_BALLOON:-0}
  VM_DISCARD=${VM_DISCARD:-ignore}
fi
VM_GUEST_PORT=80

vm_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

vm_die() { echo "vm: $*" >&2; exit 1; }

vm_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# vm_run_dir [DIR]: DIR (created) or a new temporary directory; checks the socket path length.
vm_run_dir() {
  local d=${1:-}
  if [ -z "$d" ]; then
    d=$(mktemp -d "${TMPDIR:-/tmp}/esvm.XXXXXX")
  else
    mkdir -p "$d"
    d=$(cd "$d" && pwd)
  fi
  [ ${#d} -le 95 ] || vm_die "run directory path too long for a Unix socket ($d): use a shorter one"
  echo "$d"
}

# vm_argv KERNEL INITRD MEMORY SHARE DISK DRIVE_OPTS PORT RUNDIR [defer]
# Sets the array VM_ARGV to the QEMU command line (without the program). SHARE is on|off for the
# memory backend; DRIVE_OPTS is appended to the -drive options (e.g. ",snapshot=on" or ""). Adding
# "defer" gives "-incoming defer"; nothing else differs between a boot, a save and a resume. With
# VM_DISCARD=unmap the drive passes the guest's discards (fstrim, mount -o discard) and all-zero
# writes on to disk.img as holes (detect-zeroes=unmap: native-notes/holes.md), so deleted files do
# not travel. VM_BALLOON=1 adds the balloon with free-page reporting: device state, so a VM saved with
# it resumes only with it (vm.json's "balloon").
vm_argv() {
  local kernel=$1 initrd=$2 memory=$3 share=$4 disk=$5 drive_opts=$6 port=$7 run=$8 incoming=${9:-}
  # QEMU splits option values at commas; a comma in a path would have to be doubled
  case "$kernel$initrd$memory$disk$run" in *,*) vm_die "paths with commas are not supported";; esac
  local zeroes=off
  [ "$VM_DISCARD" != unmap ] || zeroes=unmap
  VM_ARGV=(
    -nodefaults -no-user-config -no-reboot
    -machine pc,accel=tcg,memory-backend=pc.ram -m "$VM_RAM"
    -object "memory-backend-file,id=pc.ram,size=$VM_RAM,mem-path=$memory,share=$share"
    -smp 1 -display none -vga none
    -kernel "$kernel" -initrd "$initrd" -append "$VM_APPEND"
    -drive "file=$disk,format=raw,if=none,id=d0,cache=writeback,discard=$VM_DISCARD,detect-zeroes=$zeroes$drive_opts"
    -device virtio-blk-pci,drive=d0
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:$VM_GUEST_PORT" -device virtio-net-pci,netdev=n0,romfile=
    -serial "file:$run/serial.log" -qmp "unix:$run/qmp.sock,server=on,wait=off"
  )
  if [ "$VM_BALLOON" = 1 ]; then VM_ARGV+=(-device virtio-balloon-pci,free-page-reporting=on); fi
  if [ "$VM_GUEST_AGENT" = 1 ]; then
    VM_ARGV+=(-device virtio-serial-pci -chardev "socket,id=qga0,path=$run/qga.sock,server=on,wait=off"
              -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0)
  fi
  if [ "$incoming" = defer ]; then VM_ARGV+=(-incoming defer); fi
}

# vm_start RUNDIR: starts QEMU with VM_ARGV in the background, detached from the caller's stdio.
vm_start() {
  local run=$1
  rm -f "$run/qmp.sock" "$run/serial.log"
  printf '%q ' "$VM_QEMU" "${VM_ARGV[@]}" >"$run/argv"
  echo >>"$run/argv"
  "$VM_QEMU" "${VM_ARGV[@]}" </dev/null >"$run/qemu.log" 2>&1 &
  echo $! >"$run/qemu.pid"
}

vm_pid() { cat "$1/qemu.pid" 2>/dev/null; }

# vm_running PID: the process exists and is not a zombie. QEMU started by vm/run.sh outlives it and
# is reaped by PID 1, which may take its time (1.5 s in a sandbox): kill -0 succeeds on a zombie.
vm_running() {
  local state
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

vm_alive() {
  local pid
  pid=$(vm_pid "$1") || return 1
  [ -n "$pid" ] && vm_running "$pid"
}

# vm_wait_marker RUNDIR MARKER TIMEOUT_S: waits for MARKER on the serial console; fails (showing the
# end of the console and QEMU's output) if QEMU exits or the time runs out.
vm_wait_marker() {
  local run=$1 marker=$2 timeout=$3 deadline
  deadline=$(( $(vm_now_ms) + timeout * 1000 ))
  while ! grep -qa -- "$marker" "$run/serial.log" 2>/dev/null; do
    if ! vm_alive "$run"; then
      tail -n 30 "$run/serial.log" >&2 2>/dev/null || true
      cat "$run/qemu.log" >&2
      vm_die "QEMU exited before printing $marker"
    fi
    if [ "$(vm_now_ms)" -gt "$deadline" ]; then
      tail -n 30 "$run/serial.log" >&2 2>/dev/null || true
      vm_die "no $marker on the serial console after ${timeout}s"
    fi
    sleep 0.05
  done
}

# vm_wait_exit RUNDIR TIMEOUT_S: waits for QEMU to exit, kills it after the timeout.
vm_wait_exit() {
  local run=$1 timeout=$2 pid i=0
  pid=$(vm_pid "$run") || return 0
  while vm_running "$pid"; do
    if [ $i -ge $(( timeout * 20 )) ]; then
      echo "vm: QEMU $pid still running after ${timeout}s, killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
      return 1
    fi
    sleep 0.05
    i=$((i + 1))
  done
}

# vm_kill RUNDIR: ends this run's QEMU (by its pid) if it still runs.
vm_kill() {
  local run=$1 pid
  pid=$(vm_pid "$run") || return 0
  if [ -n "$pid" ] && vm_running "$pid"; then
    kill "$pid" 2>/dev/null || true
    vm_wait_exit "$run" 5 || true
  fi
}

vm_qmp() { python3 "$VM_HOME/qmp.py" "$@"; }

# vm_http PORT PATH TIMEOUT_S [RUNDIR]: GETs http://127.0.0.1:PORT/PATH, retrying until a 200 answer
# (its body on stdout) or the timeout; with RUNDIR, gives up as soon as that run's QEMU has exited. One
# python3 process polls (vm/http_get.py): a curl every 50 ms took CPU the VM needed.
vm_http() {
  python3 "$VM_HOME/http_get.py" "$@"
}

# vm_resumable_copy FROM TO: TO (made afresh) holds what `earlystart resume TO -- -snapshot` needs without
# touching FROM: a sparse copy of memory.img (QEMU 7.2 punches the pages a balloon reports free out of the
# RAM file even with share=off) and hard links to disk.img (-snapshot keeps it), vmstate and vm.json.
vm_resumable_copy() {
  local from=$1 to=$2
  rm -rf "$to"
  mkdir -p "$to"
  cp --sparse=always "$from/memory.img" "$to/memory.img"
  ln "$from/disk.img" "$from/vmstate" "$from/vm.json" "$to/"
}

# vm_wait_resumed LOG PID: waits (60 s) until `earlystart launch` or `resume` (PID, writing LOG) prints its
# "resumed" line; if PID ends first or time runs out, prints LOG to stderr and returns 1.
vm_wait_resumed() {
  local log=$1 pid=$2 i
  for i in $(seq 1200); do
    grep -q '^resumed ' "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$log" >&2
  return 1
}

# vm_serve_port LOG: the port `earlystart serve` (writing LOG) says it serves on; waits up to 10 s.
vm_serve_port() {
  local log=$1 i
  for i in $(seq 100); do grep -q serving "$log" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/.*on 127.0.0.1:\([0-9]*\).*/\1/p' "$log"
}

# vm_model_answer DISK: the answer the app's endpoint must give, computed on the host from the disk
# image itself (debugfs reads the files without mounting).
vm_model_answer() {
  local disk=$1 conf model version size md5
  conf=$(debugfs -R "cat /opt/app/conf/app.conf" "$disk" 2>/dev/null) || vm_die "cannot read app.conf from $disk"
  model=$(sed -n 's/^MODEL=//p' <<<"$conf")
  [ -n "$model" ] || vm_die "no MODEL in /opt/app/conf/app.conf of $disk (not the customised disk?)"
  version=$(debugfs -R "cat /opt/app/VERSION" "$disk" 2>/dev/null)
  size=$(debugfs -R "stat /opt/app/models/$model.bin" "$disk" 2>/dev/null | sed -n 's/.*Size: \([0-9]*\).*/\1/p' | head -n1)
  md5=$(debugfs -R "cat /opt/app/models/$model.bin" "$disk" 2>/dev/null | md5sum)
  echo "earlystart-app $version model=$model bytes=$size md5=${md5%% *}"
}
