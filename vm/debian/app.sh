#!/usr/bin/env bash
# vm/debian/app.sh OUTDIR: the CUSTOMISED VM of issue 12: the captured base (OUTDIR/base, from
# vm/debian/build.sh OUTDIR) resumed, an application installed inside the guest with apt, captured again
# into OUTDIR/app. See vm/debian/README.md.
#
# 1. Host: a small apt repository (OUTDIR/.app-repo): the app's packages and the dependencies the base
#    lacks (apt-get install --simulate against the base's own dpkg status, read from base/disk.img with
#    debugfs), apt-get download'ed into DEBVM_CACHE/debs (default OUTDIR/cache), plus earlystart-app_1.0_all.deb (dpkg-deb of
#    vm/debian/app-pkg + the model from model.py), indexed by dpkg-scanpackages, served with
#    python3 -m http.server on 127.0.0.1 (the guest sees it as http://10.0.2.2:PORT/).
# 2. Guest: base/{disk,memory}.img copied (sparse) to OUTDIR/app, `earlystart resume --share` (RAM writes
#    land in app/memory.img), through the guest agent: apt-get update + install earlystart-app, the app
#    answers through the host port, the download-and-delete of DEBVM_FETCH_MIB (100) MiB, apt's lists and
#    archives removed, sync; `earlystart capture` (vm.json from QMP).
# Then `earlystart create` of OUTDIR/app.overlay (app against base, with vmstate and vm.json).
# 3. Check: `earlystart resume` of a copy of OUTDIR/app (-snapshot) answers the line model.py expects.
# Writes OUTDIR/expected-answer.txt (the answer the check got, after comparing it with model.py's).
# A complete run is not repeated while the base (OUTDIR/.built), vm/debian and the settings are the same
# (OUTDIR/.app-built); VM_FORCE=1 reruns. The base's DEBVM_SEMANTIC (OUTDIR/semantic) carries over: with
# 0, capture does not trim.
# DEBVM_APP_PACKAGES (default "python3-numpy"), DEBVM_FETCH_MIB (100), VM_RUN_DIR, VM_RESUME_RUN_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
[ $# -eq 1 ] || vm_die "usage: vm/debian/app.sh OUTDIR"
[ "$(id -u)" -eq 0 ] || vm_die "vm/debian/app.sh needs root (apt-get download as root, dpkg-deb owners)"
out=$(cd "$1" && pwd)
repo_top=$(cd "$here/../.." && pwd)
es=$repo_top/bin/earlystart
base=$out/base
app=$out/app
kernel=$out/kernel/vmlinuz
initrd=$out/kernel/initrd.img
for f in "$base/disk.img" "$base/memory.img" "$base/vmstate" "$base/vm.json" "$kernel" "$initrd"; do
  [ -s "$f" ] || vm_die "$f missing: build the base first (vm/debian/build.sh $out)"
done
command -v dpkg-scanpackages >/dev/null || vm_die "dpkg-scanpackages missing: apt-get install dpkg-dev"
export LC_ALL=C
read -r -a app_packages <<<"${DEBVM_APP_PACKAGES:-python3-numpy}"
fetch_mib=${DEBVM_FETCH_MIB:-100}
debs=${DEBVM_CACHE:-$out/cache}/debs
repo=$out/.app-repo
mkdir -p "$debs" "$out/logs"
ms() { echo $(( $(vm_now_ms) - $1 )); }
semantic=$(cat "$out/semantic" 2>/dev/null || echo 1)
trim=()
[ "$semantic" = 1 ] || trim=(--no-trim)

# up to date: OUTDIR/app and app.overlay made from this base, these scripts and settings
app_id=$( (cd "$here" && find . -type f ! -name '*.pyc' ! -name README.md | sort | xargs sha256sum
          cat "$out/.built"; echo "${app_packages[*]}|$fetch_mib|$semantic") | sha256sum | cut -c1-16)
if [ -z "${VM_FORCE:-}" ] && [ "$(cat "$out/.app-built" 2>/dev/null)" = "$app_id" ]; then
  missing=0
  for f in app/disk.img app/memory.img app/vmstate app/vm.json app.overlay expected-answer.txt; do
    [ -s "$out/$f" ] || missing=1
  done
  if [ $missing -eq 0 ]; then echo "vm: $out/app is up to date (VM_FORCE=1 rebuilds)" >&2; exit 0; fi
fi
rm -f "$out/.app-built" "$out/expected-answer.txt"

# --- 1. the apt repository on the host ----------------------------------------------------------------
t0=$(vm_now_ms)
rm -rf "$repo"
mkdir -p "$repo"
# the base's dpkg status, from its disk (captured while mounted: debugfs -c ignores the bitmaps)
debugfs -c -R "cat /var/lib/dpkg/status" "$base/disk.img" >"$repo/base-status" 2>/dev/null
grep -q '^Package: dpkg$' "$repo/base-status" || vm_die "no dpkg status read from $base/disk.img"
# the host's package lists (a fresh machine or container may have none: apt-get update once)
if ! apt-cache show "${app_packages[@]}" >/dev/null 2>&1; then
  echo "vm: the host's apt lists do not know ${app_packages[*]}: apt-get update" >&2
  apt-get update -qq || vm_die "apt-get update failed on the host"
fi
# what apt in the guest will install (same flags as there: no recommends)
mapfile -t need < <(apt-get install --simulate --no-install-recommends -o Dir::State::status="$repo/base-status" \
  "${app_packages[@]}" 2>/dev/null | awk '$1 == "Inst" {print $2}')
[ ${#need[@]} -gt 0 ] || vm_die "apt-get --simulate found nothing to install (apt-get update?)"
sandbox=()
[ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
missing=()
for p in "${need[@]}"; do ls "$debs/${p}_"*.deb >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] || (cd "$debs" && apt-get download -q "${sandbox[@]}" "${missing[@]}" >"$out/logs/app-download.log" 2>&1) \
  || { cat "$out/logs/app-download.log" >&2; vm_die "apt-get download failed"; }
for p in "${need[@]}"; do ln "$debs/${p}_"*.deb "$repo/"; done
# the app's own package: vm/debian/app-pkg + the model
pkg=$repo/.pkg
cp -a "$here/app-pkg" "$pkg"
python3 "$here/model.py" write "$pkg/opt/app/model.f64"
python3 "$here/model.py" expect "$pkg/opt/app/model.f64" >"$out/logs/app-expected.txt"
rm -rf "$pkg/opt/app/__pycache__"
dpkg-deb --root-owner-group -Zxz -b "$pkg" "$repo/earlystart-app_1.0_all.deb" >/dev/null
rm -rf "$pkg"
(cd "$repo" && dpkg-scanpackages -m . /dev/null 2>/dev/null >Packages)
# the download-and-delete's file (as vm/build.sh: random, checked by md5 in the guest)
head -c $((fetch_mib << 20)) /dev/urandom >"$repo/download.bin"
fetch_md5=$(md5sum "$repo/download.bin" | cut -d' ' -f1)
echo "vm: repository: ${#need[@]} packages + earlystart-app, $(du -cm "$repo"/*.deb | tail -1 | cut -f1) MiB of .debs, in $(ms $t0) ms" >&2
hport=$(vm_free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$repo" "$hport" >"$out/logs/app-http.log" 2>&1 &
http_pid=$!

# --- 2. resume the base (share=on) into OUTDIR/app, install with apt, capture ----------------------------
run=$(vm_run_dir "${VM_RUN_DIR:-}")
rrun=
es_pid=
cleanup() {
  [ -z "$es_pid" ] || kill "$es_pid" 2>/dev/null || true
  vm_kill "$run"
  kill "$http_pid" 2>/dev/null || true
  [ -n "${VM_RUN_DIR:-}" ] || rm -rf "$run"
  [ -z "$rrun" ] || [ -n "${VM_RESUME_RUN_DIR:-}" ] || rm -rf "$rrun"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t0=$(vm_now_ms)
rm -rf "$app"
mkdir -p "$app"
cp --sparse=always "$base/disk.img" "$base/memory.img" "$base/vmstate" "$base/vm.json" "$app/"
echo "vm: copied the base into $app in $(ms $t0) ms" >&2
gport=$(vm_free_port)
"$es" resume "$app" --share --kernel "$kernel" --initrd "$initrd" --port "$gport" --run-dir "$run" \
  >"$out/logs/app-resume.txt" 2>&1 &
es_pid=$!
vm_wait_resumed "$out/logs/app-resume.txt" "$es_pid" || vm_die "resume of the base failed"
grep '^resumed ' "$out/logs/app-resume.txt" >&2
qga() { python3 "$here/qga.py" "$run/qga.sock" "$@"; }
qga ping >&2
apt_opts="-o Dir::Etc::sourcelist=/etc/apt/sources.list.d/earlystart.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0"
t0=$(vm_now_ms)
qga exec "echo 'deb [trusted=yes] http://10.0.2.2:$hport/ ./' >/etc/apt/sources.list.d/earlystart.list && apt-get $apt_opts update -q" \
  >"$out/logs/app-apt-update.txt" 2>&1 || { cat "$out/logs/app-apt-update.txt" >&2; vm_die "apt-get update failed in the guest"; }
update_ms=$(ms $t0)
t0=$(vm_now_ms)
qga exec "DEBIAN_FRONTEND=noninteractive apt-get $apt_opts install -y -q --no-install-recommends earlystart-app" \
  >"$out/logs/app-apt-install.txt" 2>&1 || { tail -n 30 "$out/logs/app-apt-install.txt" >&2; vm_die "apt-get install failed in the guest"; }
install_ms=$(ms $t0)
echo "vm: guest: apt-get update $update_ms ms, apt-get install earlystart-app $install_ms ms ($(grep -c '^Setting up' "$out/logs/app-apt-install.txt") packages set up)" >&2
t0=$(vm_now_ms)
vm_http "$gport" / 120 "$run" >"$out/logs/app-answer.txt" || vm_die "the app does not answer"
echo "vm: the app answers $(ms $t0) ms after the install: $(cat "$out/logs/app-answer.txt")" >&2
# the download-and-delete (vm/app/etc/rc.d/S40install), with python3's urllib (minbase has no wget),
# then what a Dockerfile's last step removes: apt's lists and archives
t0=$(vm_now_ms)
qga exec "set -e; mkdir -p /opt/app/cache; f=/opt/app/cache/download.bin
  python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' http://10.0.2.2:$hport/download.bin \$f
  sync; sum=\$(md5sum \$f | cut -d' ' -f1); size=\$(stat -c %s \$f); rm -f \$f; sync
  [ \$sum = $fetch_md5 ] || { echo md5 \$sum, expected $fetch_md5; exit 1; }
  echo EARLYSTART-FETCHED \$size bytes md5 \$sum, deleted
  rm -f /etc/apt/sources.list.d/earlystart.list; apt-get clean; rm -rf /var/lib/apt/lists/*; sync
  echo memory KiB: \$(grep -E '^(MemTotal|MemFree|Cached|AnonPages):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')" \
  | tee "$out/logs/app-fetch.txt" >&2 || vm_die "download-and-delete failed in the guest"
echo "vm: download-and-delete + clean in $(ms $t0) ms" >&2
echo "vm: before capture: memory.img $(du -m "$app/memory.img" | cut -f1) MiB allocated, disk.img $(du -m "$app/disk.img" | cut -f1) MiB" >&2
t0=$(vm_now_ms)
"$es" capture --qmp "$run/qmp.sock" --out "$app" "${trim[@]}" | tee "$out/logs/app-capture.txt" >&2
wait "$es_pid" || true
es_pid=
echo "vm: capture took $(ms $t0) ms; memory.img $(du -m "$app/memory.img" | cut -f1) MiB allocated, disk.img $(du -m "$app/disk.img" | cut -f1) MiB, vmstate $(stat -c %s "$app/vmstate") B" >&2
python3 - "$app/vm.json" <<'PY' >&2
import json, sys
d = json.load(open(sys.argv[1]))
keys = ["kernelSha256", "initrdSha256", "append", "balloon", "guestAgent"]
missing = [k for k in keys if not d.get(k)]
print("vm: app/vm.json: guestPort %s, append %r, balloon %s, guestAgent %s; missing: %s"
      % (d.get("net", {}).get("guestPort"), d.get("append"), d.get("balloon"), d.get("guestAgent"), missing or "none"))
PY
kill "$http_pid" 2>/dev/null || true

# --- overlay of the app against the base (what earlystart ships) -------------------------------------
t0=$(vm_now_ms)
"$es" create --base-disk "$base/disk.img" --base-memory "$base/memory.img" --disk "$app/disk.img" \
  --memory "$app/memory.img" --vmstate "$app/vmstate" --vm-config "$app/vm.json" -o "$out/app.overlay" \
  2>&1 | tee "$out/logs/app-create.txt" >&2
echo "vm: create took $(ms $t0) ms: $out/app.overlay $(stat -c %s "$out/app.overlay") B" >&2

# --- 3. check: resume a copy of the app VM, the app answers the expected line -------------------------
check=$out/.app-check
vm_resumable_copy "$app" "$check/vm"
rrun=$(vm_run_dir "${VM_RESUME_RUN_DIR:-}")
cport=$(vm_free_port)
t0=$(vm_now_ms)
"$es" resume "$check/vm" --kernel "$kernel" --initrd "$initrd" --port "$cport" --run-dir "$rrun" -- -snapshot \
  >"$out/logs/app-check-resume.txt" 2>&1 &
es_pid=$!
vm_wait_resumed "$out/logs/app-check-resume.txt" "$es_pid" || vm_die "resume of the app VM failed"
vm_http "$cport" / 60 "$rrun" >"$out/logs/app-check-answer.txt" || vm_die "the resumed app does not answer"
answer_ms=$(ms $t0)
kill "$es_pid"; wait "$es_pid" || true; es_pid=
rm -rf "$check"
got=$(sed 's/ numpy=.*//' "$out/logs/app-check-answer.txt")
if [ "$got" = "$(cat "$out/logs/app-expected.txt")" ]; then
  echo "vm: app check OK: resume to the app's answer in $answer_ms ms: $(cat "$out/logs/app-check-answer.txt")" >&2
  cp "$out/logs/app-check-answer.txt" "$out/expected-answer.txt"
  echo "$app_id" >"$out/.app-built"
else
  vm_die "app answered '$(cat "$out/logs/app-check-answer.txt")', expected '$(cat "$out/logs/app-expected.txt")'"
fi
