#!/usr/bin/env bash
# Measures the resident memory of the real daemon against the fake
# controller while /metrics is scraped every 2 s, for docs/bounds.md
# ("Memory to give the container").
#
#   scripts/measure-memory.sh AGENTS GROUPS [GOMEMLIMIT] [SECONDS]
#
#   AGENTS, GROUPS  fake-jenkins --agents / --groups; the daemon watches
#                   every pair (agent-0000:agent-0001, ...)
#   GOMEMLIMIT      as the daemon's environment gets it (67108864, 54MiB,
#                   ...); "off" (the default) leaves it unset
#   SECONDS         how long /metrics is scraped, every 2 s (default 60)
#
# The daemon polls @every 10s as the manifests set it. Printed: VmRSS
# (min / median / max of samples every 0.5 s) while scraped, VmHWM (the
# peak), the size of one scrape in text and gzipped, the Go heap in use.
# MB = 10^6 bytes. Needs go, curl and awk; builds into a temporary directory
# and stops what it started.
set -euo pipefail

agents="${1:?usage: $0 AGENTS GROUPS [GOMEMLIMIT|off] [SECONDS]}"
groups="${2:?usage: $0 AGENTS GROUPS [GOMEMLIMIT|off] [SECONDS]}"
limit="${3:-off}"
seconds="${4:-60}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
out="$(mktemp -d)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

go build -o "$out/jfw" .
go build -o "$out/fake-jenkins" ./cmd/fake-jenkins

# wait_for_log FILE REGEX prints the first match of REGEX in FILE, waiting
# up to 30 s for it.
wait_for_log() {
  local i
  for ((i = 0; i < 600; i++)); do
    if grep -m1 -oE "$2" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  echo "measure-memory: no match for $2 in $1" >&2
  cat "$1" >&2
  return 1
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
spread() {
  sort -n "$1" | awk '{ v[NR] = $1 * 1.024 / 1000 }
    END { printf "%.1f / %.1f / %.1f MB", v[1], v[int((NR + 1) / 2)], v[NR] }'
}
metric() {
  curl -fsS "$1/metrics" | awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }'
}

"$out/fake-jenkins" --listen 127.0.0.1:0 --agents "$agents" --groups "$groups" 2>"$out/fake.log" &
pids+=("$!")
fake="http://$(wait_for_log "$out/fake.log" 'addr=127\.0\.0\.1:[0-9]+' | cut -d= -f2)"

pairs=""
for ((g = 0; g < groups; g++)); do
  pairs+="agent-$(printf '%04d' $((2 * g))):agent-$(printf '%04d' $((2 * g + 1))),"
done
pairs="${pairs%,}"

env_limit=()
if [[ "$limit" != off ]]; then
  env_limit=("GOMEMLIMIT=$limit")
fi
env JENKINS_URL="$fake" JENKINS_USER=watchdog JENKINS_API_TOKEN=fake-token \
  WATCHDOG_PAIRS="$pairs" WATCHDOG_SCHEDULE='@every 10s' \
  WATCHDOG_LISTEN_ADDR=127.0.0.1:0 LOG_FORMAT=json LOG_LEVEL=info "${env_limit[@]}" \
  "$out/jfw" run 2>"$out/daemon.log" &
daemon_pid=$!
pids+=("$daemon_pid")
daemon="http://$(wait_for_log "$out/daemon.log" '"listen":"127\.0\.0\.1:[0-9]+"' | cut -d'"' -f4)"
# The first poll: the groups settle.
for ((i = 0; i < 600; i++)); do
  if [[ "$(metric "$daemon" 'jenkins_failover_polls_total{result="ok"}')" != 0 ]]; then
    break
  fi
  sleep 0.1
done
quiet_kb="$(rss_kb "$daemon_pid")"

# Scraped every 2 s as Prometheus does (text format, gzip), VmRSS sampled
# right after each scrape and every 0.5 s in between.
samples="$out/rss.txt"
: >"$samples"
scrapes=$((seconds / 2))
gz_bytes=0
for ((i = 0; i < scrapes; i++)); do
  gz_bytes="$(curl -fsS -o /dev/null -w '%{size_download}' -H 'Accept: text/plain;version=0.0.4' \
    -H 'Accept-Encoding: gzip' "$daemon/metrics")"
  rss_kb "$daemon_pid" >>"$samples"
  for _ in 1 2 3; do
    sleep 0.5
    rss_kb "$daemon_pid" >>"$samples"
  done
  sleep 0.5
done
text_bytes="$(curl -fsS -o /dev/null -w '%{size_download}' "$daemon/metrics")"
heap="$(metric "$daemon" go_memstats_heap_inuse_bytes)"
polls="$(metric "$daemon" 'jenkins_failover_polls_total{result="ok"}')"

printf '%s agents, %s groups, GOMEMLIMIT=%s: before scraping VmRSS %.1f MB; scraped every 2 s for %s s (%s scrapes of %s B text, %s B gzipped): VmRSS %s, VmHWM %.1f MB; Go heap in use %.1f MiB; %s polls ok\n' \
  "$agents" "$groups" "$limit" "$(awk -v k="$quiet_kb" 'BEGIN { print k * 1.024 / 1000 }')" \
  "$seconds" "$scrapes" "$text_bytes" "$gz_bytes" "$(spread "$samples")" \
  "$(awk -v k="$(hwm_kb "$daemon_pid")" 'BEGIN { print k * 1.024 / 1000 }')" \
  "$(awk -v h="$heap" 'BEGIN { print h / 1048576 }')" "${polls%%.*}"
