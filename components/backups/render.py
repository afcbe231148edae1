"""Pure renderers of the backup scripts: the upload to the store, the InfluxDB restore, and the
rclone remote of the store. Plain values in, text out; templates in scripts/.

Tools and their documented interfaces:
- `influx backup PATH` / `influx restore PATH` (influx CLI 2.x, docs.influxdata.com/influxdb/v2/
  reference/cli/influx/backup and .../restore): `--host` (INFLUX_HOST), `--token`/`-t`
  (INFLUX_TOKEN), `--full`, `--bucket`/`-b`, `--new-bucket`; restore cannot write into an
  existing bucket (use `--new-bucket`, or `--full` to replace everything).
- rclone (rclone.org/docs, /s3, /commands/rclone_copy, /commands/rclone_delete): a remote defined
  wholly by environment variables `RCLONE_CONFIG_<NAME>_<OPTION>` (type s3, provider Minio,
  endpoint, region, access_key_id, secret_access_key); `rclone copy SRC DST`;
  `rclone delete --min-age 30d DST` deletes the files older than 30 days (`--min-age`: older than).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import jinja2

SCRIPTS_DIR = Path(__file__).parent / "scripts"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(SCRIPTS_DIR),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
    auto_reload=False,
)
_ENV.filters["q"] = lambda value: shlex.quote(str(value))

REMOTE = "store"
ENV_PREFIX = f"RCLONE_CONFIG_{REMOTE.upper()}_"
ACCESS_KEY_ENV = f"{ENV_PREFIX}ACCESS_KEY_ID"
SECRET_KEY_ENV = f"{ENV_PREFIX}SECRET_ACCESS_KEY"
GRAFANA_DB_SCRIPT = (SCRIPTS_DIR / "grafana-db-backup.py").read_text()
# The Incus volume export (standard-library Python; its environment: components/backups/incus.py).
INCUS_EXPORT_SCRIPT = (SCRIPTS_DIR / "incus-export.py").read_text()

# The flags the restore uses, exactly as the influx CLI documents them (see module docstring).
INFLUX_RESTORE_FULL = ("--host", '"$INFLUX_HOST"', "--full")
INFLUX_RESTORE_BUCKET = ("--host", '"$INFLUX_HOST"', "--bucket", '"$2"', "--new-bucket", '"$2-restored"')


def target(bucket: str, prefix: str) -> str:
    """Where one application's backups live: <remote>:<bucket>/<prefix>."""
    return f"{REMOTE}:{bucket}/{prefix}"


def remote_env(scheme: str, endpoint: str, region: str) -> list[tuple[str, str]]:
    """The store as an rclone remote, from the environment; the two keys are added from a Secret."""
    return [(f"{ENV_PREFIX}TYPE", "s3"), (f"{ENV_PREFIX}PROVIDER", "Minio"),
            (f"{ENV_PREFIX}ENDPOINT", f"{scheme}://{endpoint}"), (f"{ENV_PREFIX}REGION", region)]


def retention(days: int) -> str:
    """rclone's --min-age duration for a number of days (e.g. 30d)."""
    if days < 1:
        raise ValueError("retention must be at least one day")
    return f"{int(days)}d"


def upload_script(prefix: str, source: str, bucket: str, retention_days: int) -> str:
    return _ENV.get_template("upload.sh.j2").render(
        prefix=prefix, source=source, target=target(bucket, prefix), retention=retention(retention_days))


def influx_restore_script(bucket: str, prefix: str, influx_host: str, influx_version: str,
                          remote: list[tuple[str, str]]) -> str:
    return _ENV.get_template("influx-restore.sh.j2").render(
        target=target(bucket, prefix), influx_host=influx_host, influx_version=influx_version,
        full_args=INFLUX_RESTORE_FULL, bucket_args=INFLUX_RESTORE_BUCKET, remote_env=remote)
