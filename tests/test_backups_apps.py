"""Application backups: InfluxDB and Grafana CronJobs to the off-cluster store (components/backups),
their scripts run for real (the Grafana copy against a real SQLite database, the upload and the
InfluxDB restore against recording stand-ins of `rclone` and `influx`), and their flags checked
against what the CLIs document."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from components.backups import apps, render
from components.mtig import versions
from stacks.config.backups import check_cron
from synth.wire import MASK
from tests.conftest import ENVIRONMENTS
from tests.tools import require_tool

CRON = "kubernetes:batch/v1:CronJob"
# influx CLI 2.x flags, from docs.influxdata.com/influxdb/v2/reference/cli/influx/restore/ and
# .../influx/backup/ (the pinned image's CLI, InfluxDB 2.7).
INFLUX_RESTORE_FLAGS = {"-c", "--active-config", "-b", "--bucket", "--bucket-id", "--configs-path", "--full", "-h",
                        "--help", "--hide-headers", "--host", "--http-debug", "--json", "--new-bucket", "--new-org",
                        "-o", "--org", "--org-id", "--skip-verify", "-t", "--token"}
INFLUX_BACKUP_FLAGS = {"-c", "--active-config", "-b", "--bucket", "--bucket-id", "--compression", "--configs-path",
                       "-h", "--help", "--host", "--http-debug", "-o", "--org", "--org-id", "--skip-verify", "-t",
                       "--token"}
# Environment variables the influx CLI documents for those flags ("Maps to ?" column).
INFLUX_ENV = {"INFLUX_HOST", "INFLUX_TOKEN", "INFLUX_ORG", "INFLUX_CONFIGS_PATH", "INFLUX_SKIP_VERIFY"}


def pod_spec(cron: dict) -> dict:
    return cron["inputs"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cron_jobs_back_up_both_applications_with_pinned_images(env, synth_result):
    run = synth_result(env)
    # The Incus volume exports (tests/test_backups_incus.py) run in their own namespace.
    crons = {r["inputs"]["metadata"]["name"]: r for r in run.of_type(CRON) if r["inputs"]["metadata"]["namespace"] == "mtig"}
    assert set(crons) == {"influxdb-backup", "grafana-backup"}
    for cron in crons.values():
        spec = cron["inputs"]["spec"]
        assert check_cron(spec["schedule"]) and spec["concurrencyPolicy"] == "Forbid"
        pod = pod_spec(cron)
        for container in pod["initContainers"] + pod["containers"]:
            image, _, tag = container["image"].rpartition(":")
            assert image and tag and tag != "latest", container["image"]
            assert set(container["resources"]) == {"requests", "limits"}
        (upload,) = pod["containers"]
        assert upload["image"] == apps.RCLONE_IMAGE
        env_of = {e["name"]: e for e in upload["env"]}
        assert env_of[render.ACCESS_KEY_ENV]["valueFrom"]["secretKeyRef"] == {"name": apps.STORE_SECRET, "key": "access-key"}
        assert env_of[render.SECRET_KEY_ENV]["valueFrom"]["secretKeyRef"] == {"name": apps.STORE_SECRET, "key": "secret-key"}
        assert env_of["RCLONE_CONFIG_STORE_TYPE"]["value"] == "s3"
        assert env_of["RCLONE_CONFIG_STORE_ENDPOINT"]["value"] == "https://minio.lan:9000"
    influx = pod_spec(crons["influxdb-backup"])["initContainers"][0]
    assert influx["image"] == versions.INFLUXDB_IMAGE
    assert influx["command"][:2] == ["influx", "backup"]
    assert not [a for a in influx["command"][2:] if a.startswith("-") and a not in INFLUX_BACKUP_FLAGS]
    assert {e["name"] for e in influx["env"]} - {"HOME"} <= INFLUX_ENV
    grafana = pod_spec(crons["grafana-backup"])
    (claim,) = [v for v in grafana["volumes"] if "persistentVolumeClaim" in v]
    assert claim["persistentVolumeClaim"] == {"claimName": "grafana-data", "readOnly": True}
    term = grafana["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "kubernetes.io/hostname"  # beside Grafana: its volume is ReadWriteOnce
    assert grafana["securityContext"]["runAsUser"] == apps.GRAFANA_UID
    (secret,) = [r for r in run.resources if r["type"] == "kubernetes:core/v1:Secret"
                 and r["inputs"]["metadata"]["name"] == apps.STORE_SECRET and r["inputs"]["metadata"]["namespace"] == "mtig"]
    assert secret["inputs"]["stringData"] in (MASK, {"access-key": MASK, "secret-key": MASK})
    bucket = f"homelab-{env}-backups"  # the committed stack files
    scripts = next(r for r in run.resources if r["type"] == "kubernetes:core/v1:ConfigMap"
                   and r["inputs"]["metadata"]["name"] == apps.SCRIPTS)["inputs"]["data"]
    assert f"readonly TARGET=store:{bucket}/influxdb" in scripts["upload-influxdb.sh"]
    assert scripts["influx-restore.sh"] == render.influx_restore_script(
        bucket, "influxdb", run.outputs["endpoints"]["influxdb"], versions.INFLUXDB_IMAGE_TAG,
        render.remote_env("https", "minio.lan:9000", "us-east-1"))


@pytest.mark.system
def test_scripts_pass_shellcheck(tmp_path: Path):
    require_tool("shellcheck")
    files = {"upload.sh": render.upload_script("influxdb", "/backup/influxdb", "b", 30),
             "influx-restore.sh": render.influx_restore_script("b", "influxdb", "http://influxdb:80", "2.7.12",
                                                               render.remote_env("https", "minio:9000", "us-east-1"))}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    done = subprocess.run(["shellcheck", "--severity=style", *[str(tmp_path / n) for n in files]],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def stand_in(bin_dir: Path, name: str, body: str = "") -> Path:
    """A recording stand-in of a CLI: appends its arguments to <name>.log, then runs `body`."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >>"{bin_dir}/{name}.log"\n{body}\n')
    path.chmod(0o755)
    return path


def run_script(text: str, tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.sh"
    script.write_text(text)
    bin_dir = tmp_path / "bin"
    return subprocess.run(["bash" if text.startswith("#!/usr/bin/env bash") else "sh", str(script), *args],
                          capture_output=True, text=True, check=False,
                          env={"PATH": f"{bin_dir}:{os.environ['PATH']}", **env})


def test_upload_copies_under_a_stamp_then_prunes_by_age(tmp_path: Path):
    source = tmp_path / "dump"
    source.mkdir()
    (source / "data.tar").write_text("x")
    stand_in(tmp_path / "bin", "rclone")
    text = render.upload_script("influxdb", str(source), "homelab-backups", 30)
    keys = {render.ACCESS_KEY_ENV: "ak", render.SECRET_KEY_ENV: "sk"}
    done = run_script(text, tmp_path, env=keys)
    assert done.returncode == 0, done.stderr
    copy, delete = (tmp_path / "bin/rclone.log").read_text().splitlines()
    assert re.fullmatch(rf"copy {source} store:homelab-backups/influxdb/\d{{8}}T\d{{6}}Z", copy), copy
    assert delete == "delete --min-age 30d store:homelab-backups/influxdb"
    # Without credentials, or with nothing dumped, nothing reaches the store.
    (tmp_path / "bin/rclone.log").unlink()
    assert run_script(text, tmp_path, env={render.ACCESS_KEY_ENV: "ak"}).returncode != 0
    (source / "data.tar").unlink()
    assert run_script(text, tmp_path, env=keys).returncode != 0
    assert not (tmp_path / "bin/rclone.log").exists()


def test_influx_restore_uses_only_documented_flags_and_runs_full_or_per_bucket(tmp_path: Path):
    text = render.influx_restore_script("homelab-backups", "influxdb", "http://influxdb.mtig:80", versions.INFLUXDB_IMAGE_TAG,
                                        render.remote_env("https", "minio.lan:9000", "us-east-1"))
    restore_lines = [line.split() for line in text.splitlines() if line.strip().startswith("influx restore")]
    assert len(restore_lines) == 2
    for words in restore_lines:
        flags = [w for w in words[2:] if w.startswith("-")]
        assert flags and set(flags) <= INFLUX_RESTORE_FLAGS, flags
    stand_in(tmp_path / "bin", "rclone", 'env | grep "^RCLONE_CONFIG_STORE_" | sort >>"$(dirname "$0")/rclone.env"')
    stand_in(tmp_path / "bin", "influx")
    env = {render.ACCESS_KEY_ENV: "ak", render.SECRET_KEY_ENV: "sk", "INFLUX_TOKEN": "operator-token"}
    assert run_script(text, tmp_path, "20260101T033000Z", env=env).returncode == 0
    assert run_script(text, tmp_path, "20260101T033000Z", "sensors", env=env).returncode == 0
    full, one = (tmp_path / "bin/influx.log").read_text().splitlines()
    assert full.startswith("restore --host http://influxdb.mtig:80 --full /tmp/")
    assert one.startswith("restore --host http://influxdb.mtig:80 --bucket sensors --new-bucket sensors-restored /tmp/")
    assert "operator-token" not in full + one  # the token comes from INFLUX_TOKEN, never argv
    assert (tmp_path / "bin/rclone.log").read_text().splitlines()[0].startswith(
        "copy store:homelab-backups/influxdb/20260101T033000Z /tmp/")
    assert "RCLONE_CONFIG_STORE_ENDPOINT=https://minio.lan:9000" in (tmp_path / "bin/rclone.env").read_text()
    assert run_script(text, tmp_path, env=env).returncode == 2  # no stamp: usage


def test_grafana_database_copy_is_consistent_and_leaves_the_source_alone(tmp_path: Path):
    source = tmp_path / "grafana.db"
    with sqlite3.connect(source) as db:
        db.execute("CREATE TABLE dashboard (id INTEGER PRIMARY KEY, title TEXT)")
        db.executemany("INSERT INTO dashboard (title) VALUES (?)", [("mqtt sensors",), ("proxmox",)])
    before = source.read_bytes()
    source.chmod(0o444)  # the volume is mounted read-only
    script = tmp_path / "grafana-db-backup.py"
    script.write_text(render.GRAFANA_DB_SCRIPT)
    target = tmp_path / "out.db"
    done = subprocess.run([sys.executable, str(script), str(source), str(target)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT title FROM dashboard ORDER BY id").fetchall() == [("mqtt sensors",), ("proxmox",)]
    assert source.read_bytes() == before
    missing = subprocess.run([sys.executable, str(script), str(tmp_path / "none.db"), str(target)],
                             capture_output=True, text=True)
    assert missing.returncode != 0


def test_retention_days_are_an_rclone_duration():
    assert render.retention(30) == "30d"
    with pytest.raises(ValueError):
        render.retention(0)
