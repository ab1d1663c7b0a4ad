#!/usr/bin/env bash
# One command from a fresh clone to a running harepost: installs missing
# packages, builds, and runs all four components (`harepost up --dev`) on
# SQLite in ./data with sockets in ./run and a dev account whose key it prints.
# --dev accepts http:// and loopback targets: development only. Extra
# arguments go to `harepost up` (e.g. --port 9090). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-packages.sh
swift build --product harepost
exec "$(swift build --show-bin-path)/harepost" up --dev "$@"
