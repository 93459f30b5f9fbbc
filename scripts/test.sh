#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what it needs on a fresh
# Debian machine (run it as root, as CI does), then checks that both
# modules are tidy and runs two lanes at once, since they share nothing but
# the build cache:
#
#   lane A: race-enabled tests with go vet, benchmark smoke, the demo, shellcheck
#   lane B: short fuzz runs, the deployment checks (at the lowest priority)
#
# and last the status page check in a browser (it may install Chromium, and
# apt must not run while lane B installs its own packages). Every stage
# prints how long it took (wall clock, and CPU time of its processes); a
# table at the end sums them up. A lane stops at its first failure; the
# other lane finishes, and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=false
need_pkg() { # need_pkg COMMAND PACKAGE
	if ! command -v "$1" >/dev/null 2>&1; then
		if [ "$apt_updated" = false ]; then
			as_root apt-get update -qq
			apt_updated=true
		fi
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
	fi
}

work="$(mktemp -d -t test-sh.XXXXXX)"
timings="$work/timings" # one line per stage: lane, name, result, start s, wall s, CPU s
: >"$timings"
suite_start=$EPOCHREALTIME
load_start="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

# stage LANE NAME COMMAND...: runs one stage with errexit on, prints how long
# it took, records it. Once a stage has failed, the later stages of the
# same shell (a lane runs in its own) are recorded as skipped. stage itself
# always succeeds: a caller that tested its status would turn errexit off
# inside the stage.
failed=false
stage() {
	local lane="$1" name="$2" start rc result=ok at wall cpu cpufile="$work/cpu.$BASHPID"
	shift 2
	if [ "$failed" = true ]; then
		printf '%s\t%s\tskipped\t-\t0\t0\n' "$lane" "$name" >>"$timings"
		return 0
	fi
	log "$name"
	start=$EPOCHREALTIME
	at="$(awk -v s="$suite_start" -v e="$start" 'BEGIN { printf "%.0f", e - s }')"
	times >"$cpufile" # CPU time of this shell's finished children, before and after
	set +e
	(
		set -e
		"$@"
	)
	rc=$?
	set -e
	times >>"$cpufile"
	wall="$(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }')"
	cpu="$(awk 'function sec(t, m) { m = t; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", t); sub(/s$/, "", t); return m * 60 + t }
		NR == 2 { before = sec($1) + sec($2) } NR == 4 { printf "%.1f", sec($1) + sec($2) - before }' "$cpufile")"
	if [ "$rc" -ne 0 ]; then
		result="FAILED ($rc)"
		failed=true
	fi
	printf '<== %s: %s in %ss (CPU %ss)\n' "$name" "$result" "$wall" "$cpu"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$lane" "$name" "$result" "$at" "$wall" "$cpu" >>"$timings"
}

lane_b_pid=""
summary() {
	local rc=$? total
	if [ -n "$lane_b_pid" ]; then
		kill -- "-$lane_b_pid" 2>/dev/null || true
		wait "$lane_b_pid" 2>/dev/null || true
	fi
	if grep -q 'FAILED' "$timings"; then rc=1; fi
	total="$(awk -v s="$suite_start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.0f", e - s }')"
	printf '\n==> time by stage (lanes A and B run at the same time)\n'
	awk -F'\t' -v total="$total" '
		BEGIN { printf "  %-4s %-36s %-10s %6s %8s %9s\n", "lane", "stage", "result", "start", "wall", "CPU" }
		{ printf "  %-4s %-36s %-10s %5ss %7.1fs %8.1fs\n", $1, $2, $3, $4, $5, $6; cpu += $6 }
		END { printf "  %-4s %-36s %-10s %6s %7ss %8.1fs\n", "", "whole suite", "", "", total, cpu }' "$timings"
	printf '  load average at start %s, at end %s; %s CPUs\n' "$load_start" \
		"$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" "$(nproc 2>/dev/null || echo '?')"
	rm -rf "$work"
	if [ "$rc" -eq 0 ]; then log "all checks passed"; else log "FAILED"; fi
	exit "$rc"
}
trap summary EXIT
trap 'exit 130' INT TERM

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
# Debian's Go is older than go.mod asks for; GOTOOLCHAIN=auto then fetches
# the right toolchain from the module proxy.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

tools() {
	need_pkg update-ca-certificates ca-certificates # module downloads are https
	need_pkg go golang-go
	need_pkg gcc gcc # -race needs cgo, and cgo the C library headers:
	if [ ! -e /usr/include/stdlib.h ]; then
		need_pkg /usr/include/stdlib.h libc6-dev
	fi
	need_pkg shellcheck shellcheck
	go version
}

# tidy: go.mod and go.sum of both modules are what `go mod tidy` makes them.
tidy() {
	local dir rc=0
	for dir in . tools/deploycheck; do
		echo "go mod tidy -diff in $dir"
		if ! (cd "$dir" && go mod tidy -diff); then
			echo "$dir: go.mod or go.sum is not tidy; run go mod tidy there" >&2
			rc=1
		fi
	done
	return "$rc"
}

# Compiling is most of the suite's time on a fresh machine, once per way of
# building: race-enabled (the tests, with every go vet check: -vet=all),
# fuzz-instrumented, and static without cgo and with -trimpath, as the
# Dockerfile builds the image and the deployment checks build it again.
# Everything else here that builds the project builds it that last way too,
# so the project is not compiled a fourth way. (tools/deploycheck, a module
# of its own, compiles its dependencies the default way.)
asImage() { CGO_ENABLED=0 GOFLAGS="$(go env GOFLAGS) -trimpath" "$@"; }

lane_a() {
	stage A "go test -race -vet=all" go test -race -vet=all -count=1 -timeout 15m ./...
	stage A "benchmark smoke (one iteration each)" asImage go test -count=1 -run '^$' -bench . -benchtime 1x -timeout 10m ./perf/
	stage A "demo" asImage go run . demo --listen "" --interval 1ms
	stage A "shellcheck" shellcheck scripts/*.sh .ci/run
}

lane_b() {
	# Lane A's tests measure time (timeouts, a soak that counts polls): lane
	# B runs at the lowest priority, on the CPU lane A leaves idle, so that
	# running both at once changes nothing for lane A.
	renice -n 19 -p "$BASHPID" >/dev/null || true
	stage B "fuzz (short)" scripts/fuzz-short.sh
	stage B "deployment checks" scripts/verify-deploy.sh
}

# Stages that install Debian packages run outside the lanes: apt holds a
# lock, and a second apt-get at the same time fails.
stage - "tools" tools
stage - "go mod tidy (both modules)" tidy

if [ "$failed" = false ]; then
	log "lane B (fuzz, deployment checks) runs in the background; its output follows lane A's"
	set -m # lane B gets a process group of its own, so that an early exit stops all of it
	lane_b >"$work/lane-b.log" 2>&1 &
	lane_b_pid=$!
	set +m
	lane_a
	wait "$lane_b_pid" || true # its stages are in the timings
	lane_b_pid=""
	log "lane B output"
	cat "$work/lane-b.log"
	if [ -f scripts/page-check.sh ] && ! grep -q FAILED "$timings"; then
		stage - "status page in a browser" asImage bash scripts/page-check.sh
	fi
fi
