# shellcheck shell=bash disable=SC2154
# (SC2154: workdir and timeout_s are set by the script that sources this.)
# Helpers for scripts that run the watchdog and the fake controller in the
# background: processes stopped on exit, their logs shown on failure, the
# address each bound read back from its log, bounded waits. The caller sets
# workdir and timeout_s, and defines log and fail, before sourcing this.

pids=()
addr=""

cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# dump_logs shows the end of every log in workdir.
dump_logs() {
  local f
  for f in "$workdir"/*.log "$workdir"/dom.html; do
    [[ -e "$f" ]] || continue
    log "---- last lines of $(basename "$f")"
    tail -n 30 "$f" >&2 || true
  done
}

# logged_addr FILE: the address a process logged it listens on. The fake
# controller and the watchdog bind port 0 and say which port they got, so
# no two runs (or anything else on the machine) can race for a port.
logged_addr() {
  case "$1" in
    *fake-jenkins.log) grep -o 'addr=127\.0\.0\.1:[0-9]*' "$1" | head -n 1 | cut -d= -f2 ;;
    *watchdog.log) jq -r 'select(.msg == "starting") | .listen' "$1" 2>/dev/null | head -n 1 ;;
  esac
}

# wait_addr FILE PID: waits, while process PID lives, until it has logged
# its address, and leaves it in $addr.
wait_addr() {
  local file="$1" pid="$2" deadline=$((SECONDS + timeout_s))
  addr=""
  until [[ -n "$addr" ]]; do
    kill -0 "$pid" 2>/dev/null || fail "$(basename "$file" .log) exited"
    ((SECONDS < deadline)) || fail "timed out after ${timeout_s}s waiting for $(basename "$file" .log) to listen"
    sleep 0.2
    addr="$(logged_addr "$file")"
  done
}

# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND every 0.5 s.
wait_for() {
  local what="$1" seconds="$2" deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      fail "timed out after ${seconds}s waiting for: ${what}"
    fi
    sleep 0.5
  done
}

# start_lab WATCHDOG_BIN FAKE_BIN: starts the fake controller and the
# watchdog against it (group slave01:slave02, a poll a second, failover
# after 2 offline polls), each on a port of its own choosing read back
# from its log, and waits until the watchdog is ready. Sets jenkins and
# watchdog (http://127.0.0.1:port) and watchdog_pid.
start_lab() {
  local bin="$1" fakebin="$2"
  "$fakebin" --listen 127.0.0.1:0 >"$workdir/fake-jenkins.log" 2>&1 &
  pids+=($!)
  wait_addr "$workdir/fake-jenkins.log" "$!"
  jenkins="http://${addr}"
  wait_for "fake Jenkins at ${jenkins}" "$timeout_s" \
    curl -fsS --max-time 5 -u watchdog:fake-token "${jenkins}/computer/api/json"
  log "ok: fake Jenkins up at ${jenkins}"

  env -i PATH="$PATH" HOME="$workdir" \
    JENKINS_URL="${jenkins}" \
    JENKINS_USER=watchdog \
    JENKINS_API_TOKEN=fake-token \
    WATCHDOG_PAIRS=slave01:slave02 \
    WATCHDOG_SCHEDULE='@every 1s' \
    WATCHDOG_FAILOVER_AFTER=2 \
    WATCHDOG_LISTEN_ADDR=127.0.0.1:0 \
    LOG_FORMAT=json \
    "$bin" >"$workdir/watchdog.log" 2>&1 &
  watchdog_pid=$!
  pids+=("$watchdog_pid")
  wait_addr "$workdir/watchdog.log" "$watchdog_pid"
  watchdog="http://${addr}"
  wait_for "watchdog /readyz at ${watchdog}" "$timeout_s" curl -fsS --max-time 5 "${watchdog}/readyz"
  log "ok: watchdog ready at ${watchdog}"
}
