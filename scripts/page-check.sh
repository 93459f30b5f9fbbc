#!/usr/bin/env bash
# Looks at the status page the way a person does: in a real browser, during
# a real failover.
#
#   fake-jenkins (127.0.0.1:P1) <- watchdog (127.0.0.1:P2) <- headless Chromium
#
# Starts the built-in fake Jenkins controller and the real watchdog against
# it, each on a port of its own choosing read back from its log; kills
# slave01 through the fake's control API; waits (bounded) until /status
# shows the group failed over to slave02; then renders / in headless
# Chromium and checks the DOM it built: group slave01 in state failed_over
# with slave02 active, slave01 and slave02 with their node states, the
# transition into failed_over, the Jenkins version, the timeline with
# slave02 carrying, no script. Then it revives slave01, waits until the
# group failed back, and checks the timeline again: slave01, slave02 and
# slave01 again carrying, in that order. Loopback only, a temporary
# directory; every process it starts is stopped on exit.
#
#   scripts/page-check.sh               check the page
#   scripts/page-check.sh --screenshot  also write docs/status-page.png,
#                                       the page after the failback
#
# The last check is on the screenshot: the timeline's bar of slave02
# carrying must be on screen, in its colour. Needs: go, chromium, curl, jq. As root (or with sudo) on Debian it
# installs what is missing. PAGE_CHECK_TIMEOUT (default 60) bounds each wait
# in seconds.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
timeout_s="${PAGE_CHECK_TIMEOUT:-60}"
screenshot=false
passed=0

usage() { printf 'usage: %s [--screenshot]\n' "$0"; }
for arg in "$@"; do
  case "$arg" in
    --screenshot) screenshot=true ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

log() { printf 'page-check: %s\n' "$*" >&2; }
fail() {
  log "FAIL: $*"
  dump_logs
  printf 'page-check: %d passed, 1 failed\n' "$passed"
  exit 1
}
ok() {
  passed=$((passed + 1))
  log "ok: $*"
}

as_root() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    return 1
  fi
}

need_tools() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v curl >/dev/null || missing+=(curl)
  command -v jq >/dev/null || missing+=(jq)
  command -v go >/dev/null || fail "go is not on PATH"
  if ((${#missing[@]} == 0)); then
    return
  fi
  log "installing ${missing[*]}"
  if ! command -v apt-get >/dev/null ||
    ! as_root apt-get update -qq ||
    ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    log "cannot install ${missing[*]}: run as root or with sudo on Debian, or install them yourself"
    exit 1
  fi
}

workdir="$(mktemp -d -t page-check.XXXXXX)"
# shellcheck source=scripts/lib/background.sh
source "$repo_root/scripts/lib/background.sh"

# failed_over: /status shows group slave01 failed over with slave02 active.
failed_over() {
  curl -fsS --max-time 5 "${watchdog}/status" |
    jq -e '.groups[] | select(.name == "slave01") | .state == "failed_over" and .active == "slave02"'
}

# failed_back: /status shows group slave01 normal again, slave01 active.
failed_back() {
  curl -fsS --max-time 5 "${watchdog}/status" |
    jq -e '.groups[] | select(.name == "slave01") | .state == "normal" and .active == "slave01"'
}

# carriers: the nodes the timeline of group slave01 shows carrying, in
# order, one a line (from the DOM in dom.html).
carriers() {
  sed -n '/<figure class="timeline" data-timeline="slave01">/,/<\/figure>/p' "$workdir/dom.html" |
    grep -o '<rect class="car c-[a-z0-9]*" [^>]*data-active="[^"]*"' | sed 's/.*data-active="\([^"]*\)"/\1/' |
    grep -v '^$' || true
}

# render dumps the DOM Chromium builds of the page into dom.html.
render() {
  browser --dump-dom "${watchdog}/" >"$workdir/dom.html" || fail "chromium could not render ${watchdog}/"
  [[ -s "$workdir/dom.html" ]] || fail "chromium rendered an empty page"
}

# browser runs headless Chromium on the page with a fresh profile, no
# network but loopback, and a bounded run time.
browser() {
  local profile
  profile="$(mktemp -d "$workdir/profile.XXXXXX")"
  timeout "$timeout_s" chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-extensions \
    --hide-scrollbars --user-data-dir="$profile" "$@" 2>>"$workdir/chromium.log"
}

# dom_has TEXT: the DOM Chromium built contains TEXT literally.
dom_has() {
  grep -qF -- "$1" "$workdir/dom.html"
}

need_tools

log "building the watchdog and the fake controller"
(cd "$repo_root" && go build -o "$workdir/watchdog" -ldflags "-X main.version=page-check" . &&
  go build -o "$workdir/fake-jenkins" ./cmd/fake-jenkins && go build -o "$workdir/pngcount" ./scripts/lib/pngcount) || fail "build failed"

start_lab "$workdir/watchdog" "$workdir/fake-jenkins"
passed=$((passed + 2))

curl -fsS --max-time 5 -X POST "${jenkins}/-/fake/kill?node=slave01" >/dev/null ||
  fail "the fake controller's control API refused to kill slave01"
log "killed slave01; waiting up to ${timeout_s}s for the failover"
wait_for "/status to show slave01 failed over to slave02" "$timeout_s" failed_over
ok "/status: group slave01 failed_over, slave02 active"
# A build on the standby, so the page shows it busy.
curl -fsS --max-time 5 -X POST "${jenkins}/-/fake/build?node=slave02" >/dev/null ||
  fail "the fake controller's control API refused to start a build on slave02"
sleep 2 # one more poll, so the page shows the build

render
ok "chromium rendered the page ($(wc -c <"$workdir/dom.html") bytes of DOM)"

dom_has 'data-group="slave01" data-state="failed_over" data-active="slave02"' ||
  fail "the page does not show group slave01 failed_over with slave02 active"
ok "page: group slave01 failed_over, slave02 active"
dom_has '<tr data-node="slave01" data-state="disconnected">' || fail "the page does not show slave01 disconnected"
ok "page: slave01 disconnected"
dom_has '<tr data-node="slave02" data-state="online">' || fail "the page does not show slave02 online"
ok "page: slave02 online"
dom_has 'data-group="slave01" data-to="failed_over"' || fail "the page lists no transition into failed_over"
ok "page: the transition into failed_over is listed"
version="$(curl -fsS --max-time 5 "${watchdog}/status" | jq -r '.controller.version')"
[[ -n "$version" && "$version" != null ]] || fail "/status has no Jenkins version"
dom_has "<b id=\"jenkins-version\">${version}</b>" || fail "the page does not show Jenkins version ${version}"
ok "page: Jenkins version ${version}"
dom_has '<meta http-equiv="refresh" content="10">' || fail "the page does not refresh itself"
if grep -qi '<script' "$workdir/dom.html"; then
  fail "the page carries a script"
fi
ok "page: refreshes itself, no script"
dom_has '<figure class="timeline" data-timeline="slave01">' || fail "the page has no timeline for group slave01"
dom_has 'server local offset ' || fail "the timeline does not state the server's local offset"
dom_has 'data-state="failed_over" data-active="slave02"><title>failed_over, slave02 carrying, from ' ||
  fail "the timeline shows no failed_over stretch with slave02 carrying"
[[ "$(carriers | tr '\n' ' ')" == "slave01 slave02 " ]] ||
  fail "the timeline's carrying bar shows $(carriers | tr '\n' ' '), want slave01 then slave02"
ok "page: timeline of slave01, slave01 then slave02 carrying"

curl -fsS --max-time 5 -X POST "${jenkins}/-/fake/revive?node=slave01" >/dev/null ||
  fail "the fake controller's control API refused to revive slave01"
log "revived slave01; waiting up to ${timeout_s}s for the failback"
wait_for "/status to show slave01 failed back" "$timeout_s" failed_back
ok "/status: group slave01 normal again, slave01 active"
sleep 1 # a little of the normal stretch, so the picture shows it
render
dom_has 'data-group="slave01" data-state="normal" data-active="slave01"' || fail "the page does not show group slave01 normal"
dom_has 'data-state="failing_back" data-active="slave02"' || fail "the timeline shows no failing_back stretch"
[[ "$(carriers | tr '\n' ' ')" == "slave01 slave02 slave01 " ]] ||
  fail "after the failback the carrying bar shows $(carriers | tr '\n' ' '), want slave01, slave02, slave01"
ok "page: timeline after the failback, slave01, slave02, slave01 carrying"

# On screen, not only in the DOM: the screenshot has the bar of slave02
# carrying, in its colour (.c-s1 in server/page.css), far more pixels of
# it than the legend's swatch (12 x 12) alone.
browser --screenshot="$workdir/page.png" --window-size=1000,1240 "${watchdog}/" >/dev/null ||
  fail "chromium could not take the screenshot"
standby_px="$("$workdir/pngcount" "$workdir/page.png" 1f6feb)" || fail "cannot read the screenshot"
((standby_px > 1000)) || fail "the screenshot shows ${standby_px} pixels of slave02's carrying bar, want more than 1000"
ok "screenshot: the timeline is on screen (${standby_px} pixels of slave02 carrying)"

if [[ "$screenshot" == true ]]; then
  cp "$workdir/page.png" "$repo_root/docs/status-page.png"
  ok "screenshot written to docs/status-page.png"
fi

printf 'page-check: %d passed, 0 failed\n' "$passed"
