#!/usr/bin/env bash
# Short fuzz runs of every fuzz target (their seed corpora also run in
# plain `go test`). Runs are bounded by an execution count, not a time:
# on a loaded machine a time budget can run out while the fuzzer is still
# gathering its baseline, which go test reports as a failure. FUZZSCALE
# multiplies the counts for a longer run.
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${FUZZSCALE:-1}"
run() { # run PACKAGE TARGET EXECUTIONS
	local n=$(($3 * scale))
	echo "fuzz $2 (${n} executions)"
	go test -run='^$' -fuzz="^$2\$" -fuzztime="${n}x" "$1"
}
run ./config/ FuzzParsePairs 100000
run ./jenkins/ FuzzComputersDecode 5000
run ./watcher/ FuzzDecide 100000
run ./jenkins/ FuzzDecodeMatchesReference 20000
