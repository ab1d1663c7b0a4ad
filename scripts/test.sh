#!/usr/bin/env bash
# The test command (README; .ci/run runs exactly this): installs missing
# packages, checks that the generated protobuf-c code is fresh and the
# formatting clean, then runs every test. Extra arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-packages.sh

echo "--- generated protobuf-c code is fresh"
scripts/generate-protos.sh --check

echo "--- formatting"
swift format lint --strict --recursive Sources Tests Package.swift

echo "--- tests"
swift test "$@"
