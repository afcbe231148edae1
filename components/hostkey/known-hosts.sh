#!/usr/bin/env bash
# Pin the Proxmox nodes' SSH host keys for the Proxmox provider. Its SSH client (snippet uploads)
# checks hosts against ~/.ssh/known_hosts of the user running Pulumi: it adds an unknown host's key
# on first contact and refuses a changed one (bpg/terraform-provider-proxmox proxmox/ssh/client.go,
# knownhosts.NewDB / IsHostKeyChanged). Putting the keys from the config there first turns that first
# contact into a check. Runs where Pulumi runs (a local.Command) before the provider is configured.
# PINNED: one "<address> <type> <base64 key>" line per node. KNOWN_HOSTS: the file (default
# ~/.ssh/known_hosts). Fails, changing nothing, when the file holds another key of that type for a node.
set -euo pipefail

: "${PINNED:?lines of <address> <key type> <base64 key>}"
file=${KNOWN_HOSTS:-$HOME/.ssh/known_hosts}
command -v ssh-keygen >/dev/null || { echo "ssh-keygen (OpenSSH client) is needed to check known_hosts" >&2; exit 1; }

mkdir -p "$(dirname "$file")"
[[ -e "$file" ]] || install -m 0600 /dev/null "$file"

missing=()
while read -r host type key; do
  [[ -n "${host:-}" ]] || continue
  # ssh-keygen -F finds plain and hashed entries; print the keys of this type it holds for the host.
  recorded=$(ssh-keygen -F "$host" -f "$file" 2>/dev/null |
    awk -v type="$type" '$1 !~ /^#/ && $2 == type { print $3 }' || true)
  if [[ -z "$recorded" ]]; then
    missing+=("$host $type $key")
  elif [[ "$(sort -u <<<"$recorded")" != "$key" ]]; then
    echo "$file holds another $type host key for $host than the one pinned in the config" >&2
    exit 1
  fi
done <<<"$PINNED"

if ((${#missing[@]})); then
  printf '%s\n' "${missing[@]}" >>"$file"
  printf 'pinned %s\n' "${missing[@]%% *}"
fi
