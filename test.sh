#!/usr/bin/env bash
# Runs every test (unit and integration), after making sure the packages they need are installed.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-packages.sh
exec mvn -B verify "$@"
