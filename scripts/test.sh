#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what it needs on a fresh
# Debian machine (run it as root, as CI does), then runs vet,
# the race-enabled tests, short fuzz runs, a benchmark smoke, shellcheck
# and the deployment checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage is timed; a summary prints at the end (and on failure).
stage_names=()
stage_secs=()
stage_name=""
stage_start=0
stage_end() {
	if [ -n "$stage_name" ]; then
		stage_names+=("$stage_name")
		stage_secs+=("$((SECONDS - stage_start))")
		printf '    (%s: %ss)\n' "$stage_name" "$((SECONDS - stage_start))"
	fi
	stage_name=""
}
summary() {
	stage_end
	printf '\n==> stage times\n'
	for i in "${!stage_names[@]}"; do
		printf '  %5ss  %s\n' "${stage_secs[$i]}" "${stage_names[$i]}"
	done
	printf '  %5ss  total\n' "$SECONDS"
}
trap summary EXIT
log() {
	stage_end
	stage_name="$*"
	stage_start=$SECONDS
	printf '\n==> %s\n' "$*"
}

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

log "tools"
need_pkg update-ca-certificates ca-certificates # module downloads are https
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
# Debian's Go is older than go.mod asks for; GOTOOLCHAIN=auto then fetches
# the right toolchain from the module proxy.
need_pkg go golang-go
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
need_pkg gcc gcc # -race needs cgo, and cgo the C library headers:
if [ ! -e /usr/include/stdlib.h ]; then
	need_pkg /usr/include/stdlib.h libc6-dev
fi
need_pkg shellcheck shellcheck
go version

log "go mod tidy (both modules)"
go mod tidy -diff
(cd tools/deploycheck && go mod tidy -diff)

log "go vet"
go vet ./...

log "go test -race"
go test -race -count=1 -timeout 15m ./...

if [ -x scripts/fuzz-short.sh ]; then
	log "fuzz (short)"
	scripts/fuzz-short.sh
fi

if [ -d perf ]; then
	log "benchmark smoke (one iteration each)"
	go test -run '^$' -bench . -benchtime 1x -timeout 10m ./perf/
fi

log "demo"
go run . demo --listen "" --interval 1ms

if [ -f scripts/page-check.sh ]; then
	log "status page in headless Chromium"
	bash scripts/page-check.sh
fi

log "shellcheck"
shellcheck scripts/*.sh .ci/run

if [ -x scripts/verify-deploy.sh ]; then
	log "deployment checks"
	scripts/verify-deploy.sh
fi

stage_end
printf '\n==> all checks passed\n'
