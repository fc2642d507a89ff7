#!/usr/bin/env bash
# vm/expected-answer.sh DISK: prints the answer the demo app's endpoint (GET /cgi-bin/infer) must give
# for the customised disk image DISK (e.g. OUTDIR/app/disk.img, or disk.img on a mount), computed on
# the host: debugfs reads /opt/app/conf/app.conf, /opt/app/VERSION and the configured model, and the
# model's md5 goes into the line. One line, no trailing spaces.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || vm_die "usage: vm/expected-answer.sh DISK"
vm_model_answer "$1"
