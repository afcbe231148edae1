#!/usr/bin/env bash
# Record a host's SSH host key on first contact: wait until the host answers on HOST:PORT, then print
# its key of type KEY_TYPE as one authorized_keys-style line ("ssh-ed25519 AAAA..."), which
# pulumi-command's ConnectionArgs.host_key pins for every later connection. Runs where Pulumi runs
# (a local.Command), once per host: its output stays in the state until the host is replaced.
# Parameters come from the environment (never a secret): HOST, PORT, KEY_TYPE, TIMEOUT (seconds).
set -euo pipefail

: "${HOST:?address of the host}"
: "${PORT:?SSH port}"
: "${KEY_TYPE:?host key type, e.g. ssh-ed25519}"
: "${TIMEOUT:?seconds to wait for the host to answer}"

command -v ssh-keyscan >/dev/null || { echo "ssh-keyscan (OpenSSH client) is needed to record host keys" >&2; exit 1; }

deadline=$((SECONDS + TIMEOUT))
while true; do
  # ssh-keyscan prints "host type key" lines; comments and other key types are skipped.
  line=$(ssh-keyscan -T 5 -p "$PORT" -t "$KEY_TYPE" "$HOST" 2>/dev/null |
    awk -v type="$KEY_TYPE" '$1 !~ /^#/ && $2 == type { print $2 " " $3; exit }' || true)
  if [[ -n "$line" ]]; then
    printf '%s\n' "$line"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    echo "no $KEY_TYPE host key from $HOST:$PORT after ${TIMEOUT}s" >&2
    exit 1
  fi
  sleep 5
done
