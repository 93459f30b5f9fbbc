#!/usr/bin/env bash
# End-to-end: a real Prometheus server scrapes the real watchdog while the
# watchdog fails a group over on the built-in fake Jenkins controller.
#
#   fake-jenkins (127.0.0.1:P1) <- watchdog (127.0.0.1:P2) <- prometheus (127.0.0.1:P3)
#
# Asserts through Prometheus' HTTP API that, after slave01 is killed, the
# scraped series show the group failed over, the failover counter went up,
# the active node is slave02 and JenkinsFailoverGroupFailedOver is pending or
# firing; that every query of the Grafana dashboard is valid PromQL for that
# server; and, once the watchdog itself is stopped, that
# JenkinsFailoverWatchdogDown goes pending for its target. The scrape job is
# deliberately not named jenkins-failover-watchdog: neither the alerts nor
# the dashboard may depend on the job's name. Loopback only (the fake and
# the watchdog bind port 0 and log the port they got), temporary directories;
# every process it starts is stopped on exit.
#
# Needs: go, prometheus (Debian package "prometheus"), curl, jq. Run as root
# on Debian and it installs what is missing. WATCHDOG_BIN=path skips the build.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
timeout_s="${E2E_TIMEOUT:-60}"
passed=0

log() { printf 'e2e-prometheus: %s\n' "$*" >&2; }
fail() {
  log "FAIL: $*"
  dump_logs
  printf 'e2e-prometheus: %d passed, 1 failed\n' "$passed"
  exit 1
}
ok() {
  passed=$((passed + 1))
  log "ok: $*"
}

need_tools() {
  local missing=()
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v curl >/dev/null || missing+=(curl)
  command -v jq >/dev/null || missing+=(jq)
  if ((${#missing[@]} == 0)); then
    return
  fi
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    log "missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]})"
    exit 1
  fi
  log "installing ${missing[*]}"
  # Keep the package's own prometheus service from starting.
  local policy=/usr/sbin/policy-rc.d created_policy=false
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=true
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ "$created_policy" == true ]]; then rm -f "$policy"; fi
}

workdir="$(mktemp -d -t e2e-prometheus.XXXXXX)"
# shellcheck source=scripts/lib/background.sh
source "$repo_root/scripts/lib/background.sh"

# free_port prints a TCP port nobody listens on at 127.0.0.1.
free_port() {
  local port i
  for i in $(seq 1 200); do
    port=$((20000 + (RANDOM * 32768 + RANDOM + i) % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  fail "no free port found"
}

# promql EXPR prints the result vector of an instant query as JSON.
promql() {
  curl -fsS --max-time 5 "http://127.0.0.1:${prom_port}/api/v1/query" --data-urlencode "query=$1" | jq -c '.data.result'
}

# has_result EXPR: true when the instant query returns at least one series.
has_result() {
  [[ "$(promql "$1" | jq 'length')" -gt 0 ]]
}

need_tools

bin="${WATCHDOG_BIN:-}"
if [[ -z "$bin" ]]; then
  bin="$workdir/jenkins-failover-watchdog"
  log "building the watchdog"
  (cd "$repo_root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=e2e" -o "$bin" .)
fi

fakebin="$workdir/fake-jenkins"
(cd "$repo_root" && go build -o "$fakebin" ./cmd/fake-jenkins)
start_lab "$bin" "$fakebin"
passed=$((passed + 2))
jenkins_port="${jenkins##*:}"
watchdog_port="${watchdog##*:}"

prom_port="$(free_port)"
job=e2e-not-the-default-job-name
mkdir -p "$workdir/prometheus/data"
cp "$repo_root/prometheus/alerts.yml" "$workdir/prometheus/alerts.yml"
cat >"$workdir/prometheus/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: ${job}
    static_configs:
      - targets: ["127.0.0.1:${watchdog_port}"]
YAML
prometheus \
  --config.file="$workdir/prometheus/prometheus.yml" \
  --storage.tsdb.path="$workdir/prometheus/data" \
  --web.listen-address="127.0.0.1:${prom_port}" \
  --log.level=warn >"$workdir/prometheus.log" 2>&1 &
pids+=($!)
wait_for "Prometheus ready on 127.0.0.1:${prom_port}" 30 \
  curl -fsS "http://127.0.0.1:${prom_port}/-/ready"
log "prometheus $(prometheus --version 2>&1 | head -n 1)"

wait_for "Prometheus scrapes the watchdog with the group normal" 30 \
  has_result "up{job=\"${job}\"} == 1 and on() jenkins_failover_group_state{group=\"slave01\",state=\"normal\"} == 1"
before="$(promql 'jenkins_failover_failovers_total{group="slave01"}' | jq -r '.[0].value[1] // "0"')"
ok "scraped: group slave01 normal, failovers_total=${before}"

curl -fsS -X POST "http://127.0.0.1:${jenkins_port}/-/fake/kill?node=slave01" >/dev/null ||
  fail "the fake controller's control API refused to kill slave01"
log "killed slave01; waiting up to ${timeout_s}s for the failover to show in Prometheus"

deadline=$((SECONDS + timeout_s))
seen_state=false seen_counter=false seen_active=false seen_alert=false
while ((SECONDS < deadline)); do
  if [[ "$seen_state" == false ]] && has_result 'jenkins_failover_group_state{group="slave01",state="failed_over"} == 1'; then
    seen_state=true
    ok "jenkins_failover_group_state{group=\"slave01\",state=\"failed_over\"} == 1"
  fi
  if [[ "$seen_counter" == false ]] && has_result "jenkins_failover_failovers_total{group=\"slave01\"} > ${before}"; then
    seen_counter=true
    ok "jenkins_failover_failovers_total{group=\"slave01\"} rose above ${before}"
  fi
  if [[ "$seen_active" == false ]] && has_result 'jenkins_failover_active_node{group="slave01",node="slave02"} == 1'; then
    seen_active=true
    ok "jenkins_failover_active_node{group=\"slave01\",node=\"slave02\"} == 1"
  fi
  if [[ "$seen_alert" == false ]] && has_result 'ALERTS{alertname="JenkinsFailoverGroupFailedOver",group="slave01",alertstate=~"pending|firing"}'; then
    seen_alert=true
    ok "ALERTS{alertname=\"JenkinsFailoverGroupFailedOver\"} is $(promql 'ALERTS{alertname="JenkinsFailoverGroupFailedOver"}' | jq -r '.[0].metric.alertstate')"
  fi
  if [[ "$seen_state" == true && "$seen_counter" == true && "$seen_active" == true && "$seen_alert" == true ]]; then
    break
  fi
  sleep 1
done
[[ "$seen_state" == true ]] || fail "group_state failed_over never reached Prometheus"
[[ "$seen_counter" == true ]] || fail "failovers_total never increased in Prometheus"
[[ "$seen_active" == true ]] || fail "active_node never moved to slave02 in Prometheus"
[[ "$seen_alert" == true ]] || fail "JenkinsFailoverGroupFailedOver never went pending or firing"

if has_result 'ALERTS{alertname=~"JenkinsFailoverWatchdogDown|JenkinsFailoverJenkinsUnreachable|JenkinsFailoverGroupDown"}'; then
  fail "unexpected alert: $(promql 'ALERTS{alertname=~"JenkinsFailoverWatchdogDown|JenkinsFailoverJenkinsUnreachable|JenkinsFailoverGroupDown"}')"
fi
ok "no WatchdogDown, JenkinsUnreachable or GroupDown alert"

# Every dashboard query must be accepted by this Prometheus, with Grafana's
# variables filled in as Grafana would.
dashboard="$repo_root/grafana/dashboards/jenkins-failover-watchdog.json"
queries=0
while IFS= read -r expr; do
  expr="${expr//\$__rate_interval/10s}"
  expr="${expr//\$__range/5m}"
  expr="${expr//\$__interval/1s}"
  expr="${expr//\$group/slave01}"
  status="$(curl -sS --max-time 5 "http://127.0.0.1:${prom_port}/api/v1/query" --data-urlencode "query=${expr}" | jq -r '.status')"
  [[ "$status" == success ]] || fail "Prometheus rejects the dashboard query: ${expr}"
  queries=$((queries + 1))
done < <(jq -r '[.. | objects | select(has("expr")) | .expr] | .[]' "$dashboard")
((queries > 0)) || fail "no queries found in ${dashboard}"
ok "Prometheus accepts all ${queries} dashboard queries"

# The dashboard finds the watchdog's target by its series, whatever the job.
scraped="$(jq -r '.panels[] | select(.title == "Watchdog scraped (up)") | .targets[0].expr' "$dashboard")"
has_result "$scraped" || fail "the dashboard's \"Watchdog scraped (up)\" query finds no target: ${scraped}"
ok "the dashboard's \"Watchdog scraped (up)\" query finds the watchdog under job ${job}"

# Node series have only a node label; the node panel follows $group through
# jenkins_failover_active_node: for group slave01 it shows slave01 and slave02.
node_expr="$(jq -r '.panels[] | select(.title == "Node state over time") | .targets[0].expr' "$dashboard")"
nodes="$(promql "${node_expr//\$group/slave01}" | jq -r '[.[].metric.node] | sort | join(",")')"
[[ "$nodes" == "slave01,slave02" ]] || fail "the dashboard's node panel for group slave01 shows nodes [${nodes}], want slave01,slave02"
nodes="$(promql "${node_expr//\$group/no-such-group}" | jq -r 'length')"
[[ "$nodes" == 0 ]] || fail "the dashboard's node panel shows ${nodes} nodes for a group that does not exist"
ok "the dashboard's node panel follows \$group (slave01: slave01, slave02)"

# Stop the watchdog: its scrapes fail, and JenkinsFailoverWatchdogDown must
# go pending for that very target (it fires after 5 minutes).
kill "$watchdog_pid"
wait "$watchdog_pid" 2>/dev/null || true
wait_for "JenkinsFailoverWatchdogDown pending for 127.0.0.1:${watchdog_port}" 20 \
  has_result "ALERTS{alertname=\"JenkinsFailoverWatchdogDown\",alertstate=\"pending\",job=\"${job}\",instance=\"127.0.0.1:${watchdog_port}\"}"
ok "JenkinsFailoverWatchdogDown pending for job ${job}, instance 127.0.0.1:${watchdog_port}"

printf 'e2e-prometheus: %d passed, 0 failed\n' "$passed"
