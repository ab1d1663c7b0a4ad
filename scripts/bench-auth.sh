#!/usr/bin/env bash
# Measures the auth component's Authenticate fast path in a release build,
# against the health RPC on the same connection as a baseline measured in the
# same run, and records the result in docs/benchmarks.md.
#
#   scripts/bench-auth.sh [requests] [concurrency]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
requests=${1:-50000}
concurrency=${2:-64}

echo "building release..." >&2
swift build -c release --product harepost >&2
bin="$(swift build -c release --show-bin-path)/harepost"

dir=$(mktemp -d /tmp/hp-bench-XXXXXX)
"$bin" auth --socket "$dir/auth.sock" --data-dir "$dir/data" --log-level error &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do "$bin" health --socket "$dir/auth.sock" >/dev/null 2>&1 && break; sleep 0.1; done

echo "measuring $requests calls at concurrency $concurrency..." >&2
results=$("$bin" bench auth --auth-socket "$dir/auth.sock" --requests "$requests" --concurrency "$concurrency" --markdown)
echo "$results"

section=$(cat <<SECTION
<!-- bench:auth -->
## Auth: Authenticate (one indexed read) vs the health RPC

$(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),
release build, SQLite WAL, one multiplexed Unix-socket connection.
Reproduce: \`scripts/bench-auth.sh $requests $concurrency\`.

$results
<!-- /bench:auth -->
SECTION
)
file=docs/benchmarks.md
if [ ! -f "$file" ]; then
  printf '# Benchmarks\n\nEvery number here is measured against a baseline in the same run (the machine\nis shared and noisy, so only ratios compare across runs). Each section says how\nto reproduce it.\n' > "$file"
fi
python3 - "$file" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pattern = re.compile(r"<!-- bench:auth -->.*?<!-- /bench:auth -->", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "wrote $file" >&2
