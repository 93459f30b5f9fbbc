#!/usr/bin/env bash
# Performance evidence for issue 5 (figures in docs/performance.md).
#
#  1. Go benchmarks of one poll cycle, ours and the naive gojenkins approach
#     in one run, compared by benchstat, then a naive/ours ratio table.
#  2. The poll cycle split into fetch+decode and decide, and the wall-clock
#     part of the failover latency, against the fake over loopback; the
#     decoder alone and one /metrics scrape, each against the
#     implementation it replaced.
#  3. The real daemon against `fake-jenkins --agents 1000` with 500 and 250
#     groups, without and with GOMEMLIMIT=16MiB: resident memory (VmRSS
#     samples, VmHWM) between scrapes and while /metrics is scraped every
#     2 s, and the wall-clock failover latency.
#
# Usage: scripts/bench.sh [--quick]
#   --quick          one iteration of each benchmark and a short daemon run:
#                    checks that everything works, figures are not reliable
# Environment:
#   BENCH_COUNT      benchmark repetitions for benchstat (default 6)
#   BENCH_TIME       go test -benchtime (default 1s)
#   RSS_POLLS        seconds (polls) the daemon runs unscraped while its
#                    memory is sampled (default 30)
#   SCRAPES          scrapes of /metrics, 2 s apart, while memory is sampled
#                    (default 15)
#   OUT              directory for raw results (default: a new temporary one)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

count="${BENCH_COUNT:-6}"
benchtime="${BENCH_TIME:-1s}"
rss_polls="${RSS_POLLS:-30}"
scrapes="${SCRAPES:-15}"
latency_iterations=20x
if [[ "${1:-}" == "--quick" ]]; then
  count=1
  benchtime=1x
  latency_iterations=1x
  rss_polls=5
  scrapes=2
elif [[ $# -gt 0 ]]; then
  echo "usage: scripts/bench.sh [--quick]" >&2
  exit 2
fi
out="${OUT:-$(mktemp -d -t watchdog-bench.XXXXXX)}"
mkdir -p "$out"

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

section() { printf '\n== %s ==\n' "$*"; }

section "machine"
echo "cores: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
go version
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw results: $out"

# benchstat, from the Go module proxy, into GOBIN (GOPATH/bin by default).
gobin="$(go env GOBIN)"
[[ -n "$gobin" ]] || gobin="$(go env GOPATH)/bin"
if [[ ! -x "$gobin/benchstat" ]]; then
  go install golang.org/x/perf/cmd/benchstat@latest
fi
benchstat="$gobin/benchstat"

section "poll cycle: ours and naive in one run (count=$count, benchtime=$benchtime)"
go test -run '^$' -bench '^BenchmarkPoll$' -benchtime "$benchtime" -count "$count" ./perf/ | tee "$out/poll.txt"

section "benchstat: naive against ours (ours is the base)"
"$benchstat" -col /impl "$out/poll.txt"

section "ratio naive/ours (medians)"
# benchstat's CSV has one block per unit: a header row ",ours,,ours-list,,
# ours-each,,naive,...", a unit row, then one row per benchmark with each
# column's centre. ours is the daemon's client (it chooses how to read).
"$benchstat" -format csv -col /impl "$out/poll.txt" 2>/dev/null | awk -F, '
  $2 == "ours" { nv = 0; for (i = 3; i <= NF; i++) if ($i == "naive") nv = i; if (nv) { inblock = 1; next } }
  inblock && unit == ""          { unit = $2; next }
  $0 == ""                       { inblock = 0; unit = ""; next }
  inblock && $1 != "geomean" && $2 + 0 > 0 {
    name = $1; sub(/^Poll\//, "", name); sub(/-[0-9]+$/, "", name)
    if (!(name in seen)) { seen[name] = 1; names[++n] = name }
    ratio[name, unit] = $nv / $2
  }
  END {
    split("requests/poll wire-B/poll tcp-B/poll body-B/poll sec/op cpu-sec/poll allocs/op B/op", units, " ")
    printf "%-26s", "layout"
    for (u = 1; u <= 8; u++) printf " %13s", units[u]
    printf "\n"
    for (i = 1; i <= n; i++) {
      printf "%-26s", names[i]
      for (u = 1; u <= 8; u++) {
        if ((names[i], units[u]) in ratio) printf " %12.1fx", ratio[names[i], units[u]]
        else printf " %13s", "-"
      }
      printf "\n"
    }
  }'

section "our poll cycle in parts, metrics memory, and the wall-clock part of the failover latency"
go test -run '^$' -bench '^(BenchmarkPollParts|BenchmarkMetricsFootprint)$' -benchtime "$benchtime" -count "$count" ./perf/ | tee "$out/parts.txt"
# Each latency iteration is four polls of a fake that renders every answer
# afresh: a fixed count keeps this step under a minute.
go test -run '^$' -bench '^BenchmarkFailoverLatency$' -benchtime "$latency_iterations" -count "$count" ./perf/ | tee -a "$out/parts.txt"
"$benchstat" "$out/parts.txt"

section "decode alone and one scrape: ours against what they replaced, in one run each"
# BenchmarkDecode: the poll's list from memory, the streaming decoder
# (impl=stream) against encoding/json into structs (impl=encoding-json).
# BenchmarkScrape: /metrics at 1,000 agents, the shared series (impl=shared)
# against a const metric built per series per scrape (impl=const).
go test -run '^$' -bench '^BenchmarkDecode$' -benchtime "$benchtime" -count "$count" ./jenkins/ | tee "$out/decode.txt"
"$benchstat" -col /impl "$out/decode.txt"
go test -run '^$' -bench '^BenchmarkScrape$' -benchtime "$benchtime" -count "$count" ./watcher/ | tee "$out/scrape.txt"
"$benchstat" -col /impl "$out/scrape.txt"

section "payload sizes, failover latency in injected time, flat memory"
go test -count=1 -run '^(TestPayloadSize|TestOneRequestPerPoll|TestFailoverLatencyInjectedTime|TestNoGrowthWithUptime)$' -v ./perf/ |
  grep -E '^(---|\s+\S+_test\.go)' | sed -E 's/^ +[a-z_]+_test\.go:[0-9]+: /    /'

section "the daemon against fake-jenkins: resident memory and failover latency"
bin="$out/jenkins-failover-watchdog"
go build -o "$bin" .
fakebin="$out/fake-jenkins"
go build -o "$fakebin" ./cmd/fake-jenkins

# wait_for_log FILE REGEX prints the first match of REGEX in FILE, waiting
# up to 10 s for it to appear.
wait_for_log() {
  local i
  for ((i = 0; i < 200; i++)); do
    if grep -m1 -oE "$2" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  echo "bench: no match for $2 in $1:" >&2
  cat "$1" >&2
  return 1
}

# metric URL NAME_AND_LABELS prints the value of one series, 0 if absent.
metric() {
  curl -fsS "$1/metrics" | awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }'
}

# rss_kb PID prints the process's VmRSS in kB (KiB, as /proc counts).
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# hwm_kb PID prints the process's VmHWM (peak VmRSS) in kB.
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
# spread FILE prints "min / median / max MB" of the kB values in FILE
# (MB = 10^6 bytes).
spread() {
  sort -n "$1" | awk '{ v[NR] = $1 * 1.024 / 1000 }
    END { printf "%.1f / %.1f / %.1f MB", v[1], v[int((NR + 1) / 2)], v[NR] }'
}

# run_daemon AGENTS GROUPS GOMEMLIMIT measures one layout ("off" = Go's
# default, no memory limit): resident memory while nothing scrapes it, then
# while /metrics is scraped every 2 s, then the wall-clock failover latency.
run_daemon() {
  local agents="$1" groups="$2" limit="$3" tag="a$1-g$2-m$3"
  "$fakebin" --listen 127.0.0.1:0 --agents "$agents" --groups "$groups" 2>"$out/fake-$tag.log" &
  local fake_pid=$!
  pids+=("$fake_pid")
  local fake_addr
  fake_addr="$(wait_for_log "$out/fake-$tag.log" 'addr=127\.0\.0\.1:[0-9]+' | cut -d= -f2)"
  local fake="http://$fake_addr"

  local pairs="" g
  for ((g = 0; g < groups; g++)); do
    pairs+="$(printf 'agent-%04d:agent-%04d' $((2 * g)) $((2 * g + 1))),"
  done
  pairs="${pairs%,}"

  JENKINS_URL="$fake" JENKINS_USER=watchdog JENKINS_API_TOKEN=fake-token \
    WATCHDOG_PAIRS="$pairs" WATCHDOG_SCHEDULE='@every 1s' WATCHDOG_FAILOVER_AFTER=2 \
    WATCHDOG_LISTEN_ADDR=127.0.0.1:0 LOG_FORMAT=json LOG_LEVEL=info GOMEMLIMIT="$limit" \
    "$bin" run 2>"$out/daemon-$tag.log" &
  local daemon_pid=$!
  pids+=("$daemon_pid")
  local listen
  listen="$(wait_for_log "$out/daemon-$tag.log" '"listen":"127\.0\.0\.1:[0-9]+"' | cut -d'"' -f4)"
  local daemon="http://$listen"

  # Between scrapes: nothing reads the daemon for rss_polls seconds (one
  # poll a second); VmRSS is sampled every second after a warm-up third.
  local i quiet="$out/rss-quiet-$tag.txt" scraped="$out/rss-scraped-$tag.txt"
  : >"$quiet"
  for ((i = 0; i < rss_polls; i++)); do
    sleep 1
    if ((i >= rss_polls / 3)); then
      rss_kb "$daemon_pid" >>"$quiet"
    fi
  done
  local quiet_hwm
  quiet_hwm="$(hwm_kb "$daemon_pid")"
  local polls errors
  polls="$(metric "$daemon" 'jenkins_failover_polls_total{result="ok"}')"
  errors="$(metric "$daemon" 'jenkins_failover_polls_total{result="error"}')"

  # Scraped every 2 s, as a Prometheus with a short interval would:
  # VmRSS sampled right after each scrape and every 0.5 s in between.
  : >"$scraped"
  local scrape_bytes=0
  for ((i = 0; i < scrapes; i++)); do
    scrape_bytes="$(curl -fsS -o /dev/null -w '%{size_download}' "$daemon/metrics")"
    rss_kb "$daemon_pid" >>"$scraped"
    for _ in 1 2 3; do
      sleep 0.5
      rss_kb "$daemon_pid" >>"$scraped"
    done
    sleep 0.5
  done
  local heap goroutines
  heap="$(metric "$daemon" go_memstats_heap_inuse_bytes)"
  goroutines="$(metric "$daemon" go_goroutines)"

  printf '%s agents, %s groups, GOMEMLIMIT=%s, @every 1s (%s polls ok, %s failed before the first scrape):\n' \
    "$agents" "$groups" "$limit" "${polls%%.*}" "${errors%%.*}"
  printf '  between scrapes (%s s):          VmRSS %s, VmHWM %.1f MB\n' \
    "$rss_polls" "$(spread "$quiet")" "$(awk -v k="$quiet_hwm" 'BEGIN { print k * 1.024 / 1000 }')"
  printf '  scraped every 2 s (%s scrapes of %s B): VmRSS %s, VmHWM %.1f MB; Go heap in use %.1f MiB, %s goroutines\n' \
    "$scrapes" "$scrape_bytes" "$(spread "$scraped")" "$(awk -v k="$(hwm_kb "$daemon_pid")" 'BEGIN { print k * 1.024 / 1000 }')" \
    "$(awk -v h="$heap" 'BEGIN { print h / 1048576 }')" "$goroutines"

  # Failover latency, wall clock: kill the first primary and wait for the
  # fake to show its standby no longer temporarily offline.
  local t0 t1 state=""
  t0="$(date +%s%N)"
  curl -fsS -X POST "$fake/-/fake/kill?node=agent-0000" >/dev/null
  for ((i = 0; i < 400; i++)); do
    state="$(curl -fsS "$fake/-/fake/node?node=agent-0001")"
    if [[ "$state" == *'"TemporarilyOffline":false'* ]]; then
      break
    fi
    sleep 0.01
  done
  t1="$(date +%s%N)"
  if [[ "$state" == *'"TemporarilyOffline":false'* ]]; then
    printf '  failover: primary killed → standby online request done in %d ms (WATCHDOG_FAILOVER_AFTER=2, @every 1s: expect 1 to 2 s plus one poll)\n' \
      $(((t1 - t0) / 1000000))
  else
    printf '  failover: standby not brought online within 4 s\n'
  fi

  kill "$daemon_pid" "$fake_pid"
  wait "$daemon_pid" "$fake_pid" 2>/dev/null || true
  pids=()
}

run_daemon 1000 500 off
run_daemon 1000 500 16MiB
run_daemon 1000 250 off
run_daemon 1000 250 16MiB
