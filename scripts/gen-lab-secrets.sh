#!/usr/bin/env bash
# Generates the secrets of the docker compose lab into compose/secrets/ (or the
# directory given as the first argument). Idempotent: existing files are kept,
# so the watchdog token and the agent key stay the same across runs; pass
# --force to make new ones (then restart the lab: docker compose up -d --force-recreate).
#
# Usage: scripts/gen-lab-secrets.sh [--force] [DIR]
set -euo pipefail

force=false
if [[ "${1:-}" == "--force" ]]; then
  force=true
  shift
fi
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-${repo_root}/compose/secrets}"

command -v ssh-keygen >/dev/null || {
  echo "gen-lab-secrets: ssh-keygen is needed (Debian: apt-get install openssh-client)" >&2
  exit 1
}

mkdir -p "$dir"
chmod 0700 "$dir"

# random_hex N prints N random bytes as 2N lowercase hex characters.
random_hex() {
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# write_secret NAME VALUE writes VALUE to DIR/NAME unless it exists (or --force).
write_secret() {
  local path="${dir}/$1"
  if [[ -s "$path" && "$force" == false ]]; then
    echo "kept      ${path}"
    return
  fi
  # No trailing newline: CasC and the watchdog read the whole file.
  (umask 077 && printf '%s' "$2" >"$path")
  chmod 0644 "$path"
  echo "generated ${path}"
}

write_secret jenkins_admin_password "$(random_hex 16)"
write_secret watchdog_password "$(random_hex 16)"
# Jenkins accepts a fixed API token only in its own format: "11" + 32 hex.
write_secret watchdog_token "11$(random_hex 16)"
write_secret grafana_admin_password "$(random_hex 16)"

key="${dir}/agent_ssh_key"
if [[ ! -s "$key" || "$force" == true ]]; then
  rm -f "$key" "${key}.pub"
  ssh-keygen -q -t ed25519 -N '' -C 'jenkins-failover-watchdog-lab' -f "$key"
  echo "generated ${key}"
else
  echo "kept      ${key}"
fi
chmod 0644 "$key" "${key}.pub"

# The agents read their authorized key from the environment.
printf 'JENKINS_AGENT_SSH_PUBKEY=%s\n' "$(cat "${key}.pub")" >"${dir}/agent.env"
chmod 0644 "${dir}/agent.env"

echo "lab secrets are in ${dir}; admin password: cat ${dir}/jenkins_admin_password"
