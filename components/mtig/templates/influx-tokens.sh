#!/usr/bin/env bash
# Reconciles the org, bucket and retention, and creates (once) the scoped InfluxDB tokens Telegraf and Grafana use, and writes them with a
# kustomization next to them so the next container can `kubectl apply -k` them as Secrets.
# InfluxDB 2 generates token values itself (they cannot be chosen), so this runs in the cluster.
# Idempotent: an authorization whose description already exists is reused, not duplicated.
# Environment: INFLUX_HOST, INFLUX_TOKEN (operator token, from a Secret), INFLUX_ORG,
# INFLUX_BUCKET, INFLUX_RETENTION, TELEGRAF_DESCRIPTION, GRAFANA_DESCRIPTION, KUSTOMIZATION, OUT_DIR.
set -euo pipefail

mkdir -p "$HOME"

for _ in $(seq 1 60); do
  if influx ping --host "$INFLUX_HOST" >/dev/null 2>&1; then
    break
  fi
  sleep 5
done
influx ping --host "$INFLUX_HOST" >/dev/null

# Org, bucket and retention are reconciled on every run: the chart's setup applies them at the
# first start only, so a renamed org or bucket would not exist and a new retention would be ignored.
# Flags: docs.influxdata.com/influxdb/v2/reference/cli/influx/bucket/update/ (--id, --retention).
org_id="$(influx org list --host "$INFLUX_HOST" --name "$INFLUX_ORG" --hide-headers 2>/dev/null \
  | awk 'NR == 1 { print $1 }' || true)"
if [ -z "$org_id" ]; then
  influx org create --host "$INFLUX_HOST" --name "$INFLUX_ORG" >/dev/null
  echo "org $INFLUX_ORG created"
fi
bucket_id="$(influx bucket list --host "$INFLUX_HOST" --org "$INFLUX_ORG" \
  --name "$INFLUX_BUCKET" --hide-headers 2>/dev/null | awk 'NR == 1 { print $1 }' || true)"
if [ -z "$bucket_id" ]; then
  bucket_id="$(influx bucket create --host "$INFLUX_HOST" --org "$INFLUX_ORG" --name "$INFLUX_BUCKET" \
    --retention "$INFLUX_RETENTION" --hide-headers | awk 'NR == 1 { print $1 }')"
  echo "bucket $INFLUX_BUCKET created"
else
  influx bucket update --host "$INFLUX_HOST" --id "$bucket_id" --retention "$INFLUX_RETENTION" >/dev/null
fi
if [ -z "$bucket_id" ]; then
  echo "bucket $INFLUX_BUCKET could not be created in org $INFLUX_ORG" >&2
  exit 1
fi
echo "bucket $INFLUX_BUCKET in org $INFLUX_ORG: retention $INFLUX_RETENTION"

# ensure_token DESCRIPTION PERMISSION_FLAG FILE
ensure_token() {
  local description="$1" permission="$2" file="$3" token
  token="$(influx auth list --host "$INFLUX_HOST" --org "$INFLUX_ORG" --hide-headers \
    | awk -v d="$description" '$2 == d { print $3; exit }')"
  if [ -z "$token" ]; then
    token="$(influx auth create --host "$INFLUX_HOST" --org "$INFLUX_ORG" \
      --description "$description" "$permission" "$bucket_id" --hide-headers \
      | awk 'NR == 1 { print $3 }')"
  fi
  if [ -z "$token" ]; then
    echo "could not create the token $description" >&2
    exit 1
  fi
  (umask 077 && printf '%s' "$token" >"$OUT_DIR/$file")
}

ensure_token "$TELEGRAF_DESCRIPTION" --write-bucket telegraf.token
ensure_token "$GRAFANA_DESCRIPTION" --read-bucket grafana.token
cp "$KUSTOMIZATION" "$OUT_DIR/kustomization.yaml"
echo "tokens ready: $TELEGRAF_DESCRIPTION, $GRAFANA_DESCRIPTION"
