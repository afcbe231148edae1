"""Pure renderers of the backup scripts: the upload to the store, the InfluxDB restore, and the
store's alias URL (MinIO client). Plain values in, text out; templates in scripts/.

Tools and their documented interfaces:
- `influx backup PATH` / `influx restore PATH` (influx CLI 2.x, docs.influxdata.com/influxdb/v2/
  reference/cli/influx/backup and .../restore): `--host` (INFLUX_HOST), `--token`/`-t`
  (INFLUX_TOKEN), `--full`, `--bucket`/`-b`, `--new-bucket`; restore cannot write into an
  existing bucket (use `--new-bucket`, or `--full` to replace everything).
- `mc cp --recursive`, `mc rm --recursive --force --older-than DURATION`, and the alias given as
  `MC_HOST_<alias>=https://ACCESS:SECRET@host:port` (min.io/docs/minio/linux/reference/minio-mc).
"""

from __future__ import annotations

import shlex
import urllib.parse
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

ALIAS = "store"
ALIAS_ENV = f"MC_HOST_{ALIAS}"
GRAFANA_DB_SCRIPT = (SCRIPTS_DIR / "grafana-db-backup.py").read_text()

# The flags the restore uses, exactly as the influx CLI documents them (see module docstring).
INFLUX_RESTORE_FULL = ("--host", '"$INFLUX_HOST"', "--full")
INFLUX_RESTORE_BUCKET = ("--host", '"$INFLUX_HOST"', "--bucket", '"$2"', "--new-bucket", '"$2-restored"')


def target(bucket: str, prefix: str) -> str:
    """Where one application's backups live: <alias>/<bucket>/<prefix>."""
    return f"{ALIAS}/{bucket}/{prefix}"


def alias_url(scheme: str, endpoint: str, access_key: str, secret_key: str) -> str:
    """MC_HOST_store's value; keys are percent-encoded so that any character survives the URL."""
    quote = lambda value: urllib.parse.quote(value, safe="")  # noqa: E731
    return f"{scheme}://{quote(access_key)}:{quote(secret_key)}@{endpoint}"


def retention(days: int) -> str:
    """mc's --older-than duration for a number of days (e.g. 30d)."""
    if days < 1:
        raise ValueError("retention must be at least one day")
    return f"{int(days)}d"


def upload_script(prefix: str, source: str, bucket: str, retention_days: int) -> str:
    return _ENV.get_template("upload.sh.j2").render(
        prefix=prefix, source=source, target=target(bucket, prefix), retention=retention(retention_days))


def influx_restore_script(bucket: str, prefix: str, influx_host: str, influx_version: str) -> str:
    return _ENV.get_template("influx-restore.sh.j2").render(
        target=target(bucket, prefix), influx_host=influx_host, influx_version=influx_version,
        full_args=INFLUX_RESTORE_FULL, bucket_args=INFLUX_RESTORE_BUCKET)
