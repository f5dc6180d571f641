#!/usr/bin/env bash
# Sync benchmark of issue 3: 100,000 users in 5,000 groups loaded into a
# private slapd, an ldapsearch dump as the reference, then a full sync into
# an empty SQLite store, a second full sync and a no-change incremental,
# each run as the built `dirbridge sync --json`. Extra arguments go to
# bench/syncbench (e.g. --profile DIR for pprof files of the full sync).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || scripts/install-deps.sh
export PATH="$PATH:/usr/sbin"
mkdir -p bin
CGO_ENABLED=0 ${GO:-go} build -trimpath -o bin/dirbridge ./cmd/dirbridge
${GO:-go} build -o bin/syncbench ./bench/syncbench
exec bin/syncbench --bin bin/dirbridge "$@"
