#!/usr/bin/env bash
# Mutation testing with gremlins: each package's code is changed one small
# mutation at a time (a comparison turned around, a condition negated, an
# increment reversed) and the package's tests are run against it. A mutant
# the tests still pass on ("lived") is a change of behaviour nothing
# checks. Slow, so not part of scripts/test.sh; docs/reliability.md
# ("Mutation testing") records the last run and what each lived mutant in a
# guard means.
#
#   scripts/mutation.sh                 every package below, one after another
#   scripts/mutation.sh config switchover
#
# Installs gremlins (GREMLINS_VERSION) with `go install` when missing.
# MUTATION_WORKERS (default 1) mutants run at once; MUTATION_TIMEOUT_COEFFICIENT
# (default 10) multiplies the tests' own time into each mutant's time limit,
# so that a loaded machine reads slow tests as slow, not as timed out.
# Results: one log and one JSON report per package in MUTATION_OUT (default
# a temporary directory), and a summary line per package at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

GREMLINS_VERSION="${GREMLINS_VERSION:-v0.6.0}"
workers="${MUTATION_WORKERS:-1}"
coefficient="${MUTATION_TIMEOUT_COEFFICIENT:-10}"
out="${MUTATION_OUT:-$(mktemp -d -t mutation.XXXXXX)}"
mkdir -p "$out"

if [ "$#" -gt 0 ]; then
	packages=("$@")
else
	packages=(config switchover agent jenkins watcher)
fi

bin="$(go env GOBIN)"
if [ -z "$bin" ]; then bin="$(go env GOPATH | cut -d: -f1)/bin"; fi
gremlins="$bin/gremlins"
# gremlins --version says "dev" when built by go install; the binary's
# module line tells the version.
if ! go version -m "$gremlins" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+github.com/go-gremlins/gremlins[[:space:]]+$GREMLINS_VERSION([[:space:]]|\$)"; then
	echo "installing gremlins $GREMLINS_VERSION"
	go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
fi

summary="$out/summary.txt"
: >"$summary"
status=0
for pkg in "${packages[@]}"; do
	pkg="${pkg#./}"
	pkg="${pkg%/}"
	if [ ! -d "$pkg" ]; then
		echo "no package directory $pkg" >&2
		exit 2
	fi
	log="$out/$pkg.log"
	echo "==> $pkg (log $log)"
	start=$SECONDS
	if ! nice "$gremlins" unleash --workers "$workers" --timeout-coefficient "$coefficient" \
		--output "$out/$pkg.json" "./$pkg" >"$log" 2>&1; then
		echo "gremlins failed on $pkg; see $log" >&2
		status=1
	fi
	# The closing lines: Killed, Lived, Not covered / Timed out, Not viable,
	# Skipped / Test efficacy / Mutator coverage.
	{
		printf '%s (%ss): ' "$pkg" "$((SECONDS - start))"
		grep -E '^(Killed|Timed out|Test efficacy|Mutator coverage)' "$log" | tr '\n' ' ' | sed 's/ *$//'
		printf '\n'
	} | tee -a "$summary"
	grep -E '^ *LIVED' "$log" | sed "s|^ *|  $pkg: |" | tee -a "$summary" || true
done
echo "summary: $summary"
exit "$status"
