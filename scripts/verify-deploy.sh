#!/usr/bin/env bash
# Verifies everything about shipping jenkins-failover-watchdog that can be
# verified without a Docker engine or a Kubernetes cluster:
#
#   1. shellcheck on every script in scripts/
#   2. docker-compose.yml: `docker-compose config -q` (Debian's docker-compose)
#      on a copy with freshly generated lab secrets
#   3. promtool check config / check rules / test rules
#   4. tools/deploycheck (go test): Dockerfile lint (BuildKit's parser and
#      linter) and the image's build flags; the binary built with those flags,
#      static, running healthcheck against a live daemon, its /metrics checked
#      against the contract; compose references and the watchdog service;
#      Kubernetes manifests decoded strictly into k8s.io/api types and
#      `kustomize build` (krusty, in-process) of the base and the pre-1.29
#      overlay; the ServiceMonitors decoded into the Prometheus Operator type;
#      the Helm chart values' watchdog container decoded strictly into a
#      Container, its Service against the chart's controller labels; Jenkins
#      versions outside the range that drops parked agents; the metric names
#      of every dashboard and alert query are ones the watchdog exports (the
#      contract and the real binary's /metrics), no datasource uid and no job
#      name hard-coded
#   5. scripts/e2e-prometheus.sh: a real Prometheus scraping the watchdog
#      (under a job not named after it) through a failover on the fake
#      controller, then the watchdog stopped (VERIFY_DEPLOY_SKIP_E2E=1 skips)
#
# Run from anywhere, non-interactively, as root on Debian 12 (it installs the
# Debian packages it needs when missing: the shellcheck linter, prometheus,
# docker-compose, openssh-client, curl and jq), or as any user who has them.
# Idempotent.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

passed=0
failed=0
failures=()

log() { printf 'verify-deploy: %s\n' "$*" >&2; }

# step NAME COMMAND...: runs one check, records the outcome, goes on.
step() {
  local name="$1"
  shift
  log "---- ${name}"
  if "$@"; then
    passed=$((passed + 1))
    log "PASS ${name}"
  else
    failed=$((failed + 1))
    failures+=("$name")
    log "FAIL ${name}"
  fi
}

install_tools() {
  local -A pkg_for=(
    [shellcheck]=shellcheck [promtool]=prometheus [prometheus]=prometheus
    [docker-compose]=docker-compose [ssh-keygen]=openssh-client [curl]=curl [jq]=jq
  )
  local cmd missing=()
  for cmd in "${!pkg_for[@]}"; do
    command -v "$cmd" >/dev/null || missing+=("${pkg_for[$cmd]}")
  done
  if ((${#missing[@]} == 0)); then
    return
  fi
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    log "missing packages: ${missing[*]} (Debian: apt-get install ${missing[*]})"
    exit 1
  fi
  log "installing ${missing[*]}"
  # Installing prometheus must not start its system service.
  local policy=/usr/sbin/policy-rc.d created_policy=false
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=true
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ "$created_policy" == true ]]; then
    rm -f "$policy"
  fi
}

check_shell_scripts() {
  local scripts=()
  mapfile -t scripts < <(git ls-files 'scripts/*.sh' 2>/dev/null || find scripts -type f -name '*.sh' | sort)
  log "shellcheck ${scripts[*]}"
  shellcheck --severity=style "${scripts[@]}"
}

check_compose() {
  local tmp rc=0
  tmp="$(mktemp -d -t verify-compose.XXXXXX)"
  # A copy, so that the secrets generated for the check never land in the
  # work tree.
  cp -R docker-compose.yml Dockerfile .dockerignore compose prometheus grafana "$tmp/"
  rm -rf "$tmp/compose/secrets"
  bash scripts/gen-lab-secrets.sh "$tmp/compose/secrets" >/dev/null || rc=$?
  if ((rc == 0)); then
    (cd "$tmp" && docker-compose -f docker-compose.yml config -q) || rc=$?
  fi
  if ((rc == 0)); then
    log "services: $(cd "$tmp" && docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')"
  fi
  rm -rf "$tmp"
  return "$rc"
}

check_promtool() {
  promtool check config prometheus/prometheus.yml &&
    promtool check rules prometheus/alerts.yml &&
    (cd prometheus && promtool test rules alerts_test.yml)
}

check_deploycheck() {
  (cd tools/deploycheck && go test -count=1 ./...)
}

install_tools
step "shellcheck scripts/*.sh" check_shell_scripts
step "docker-compose config" check_compose
step "promtool" check_promtool
step "tools/deploycheck (go test)" check_deploycheck
if [[ "${VERIFY_DEPLOY_SKIP_E2E:-}" == 1 ]]; then
  log "---- e2e skipped (VERIFY_DEPLOY_SKIP_E2E=1)"
else
  step "e2e Prometheus" bash scripts/e2e-prometheus.sh
fi

if ((failed > 0)); then
  log "failed: ${failures[*]}"
fi
printf 'verify-deploy: %d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
