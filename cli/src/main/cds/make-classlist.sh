#!/usr/bin/env bash
# cli/src/main/cds/make-classlist.sh FIRST.lst [MORE.lst ...] > cli/src/main/cds/classes.lst
# Merges class lists written by runs of bin/earlystart with EARLYSTART_JAVA_OPTS=-XX:DumpLoadedClassList=F.lst
# (make FIRST with a launch of the test VM from es://, the path whose start-up matters most): FIRST whole,
# lambda forms included, then the classes the others loaded that FIRST did not. See native-notes/JVM.md.
set -euo pipefail
[ $# -ge 1 ] || { sed -n 2,5p "$0" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
awk '/^#/ { print; next } { exit }' "$here/classes.lst" # the list's own header
first=$1; shift
grep -v '^#' "$first"
if [ $# -gt 0 ]; then
  comm -13 <(grep -v '^[#@]' "$first" | sort -u) <(cat "$@" | grep -v '^[#@]' | sort -u)
fi
