#!/usr/bin/env bash
# The Incus client certificate CI authenticates with: one that every remote of the stack already
# trusts (`incus config trust add-certificate client.crt` once, from a workstation), kept as two
# secrets of the stack's GitHub environment. `install` writes them where the Incus provider reads
# its client certificate (config_dir of the stack's remotes, default ~/.config/incus), private;
# `remove` deletes them again at the end of the job, whatever happened.
# Usage: INCUS_CLIENT_CERTIFICATE=... INCUS_CLIENT_KEY=... incus-client.sh install | incus-client.sh remove
set -euo pipefail

readonly DIR="${INCUS_CONFIG_DIR:-$HOME/.config/incus}"

case "${1:-}" in
  install)
    [[ -n "${INCUS_CLIENT_CERTIFICATE:-}" && -n "${INCUS_CLIENT_KEY:-}" ]] \
      || { echo "::error::INCUS_CLIENT_CERTIFICATE and INCUS_CLIENT_KEY must be set (secrets of the environment)" >&2; exit 2; }
    umask 077
    mkdir -p "$DIR"
    printf '%s\n' "$INCUS_CLIENT_CERTIFICATE" >"$DIR/client.crt"
    printf '%s\n' "$INCUS_CLIENT_KEY" >"$DIR/client.key"
    ;;
  remove)
    rm -f "$DIR/client.crt" "$DIR/client.key"
    ;;
  *)
    echo "usage: $0 install|remove" >&2
    exit 2
    ;;
esac
