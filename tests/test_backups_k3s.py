"""k3s datastore backups: etcd snapshot settings in config.yaml, the S3 credentials drop-in written from
stdin, and the restore flow (`k3s server --cluster-reset --cluster-reset-restore-path`) run for real
inside the debootstrap'd root filesystem against the installer stand-in (tests/rootfs.py,
tests/fixtures/k3s/installer-standin.sh)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from components.k3s import render
from stacks.config.backups import check_cron
from synth.wire import MASK
from tests.rootfs import make_rootfs, run_in_rootfs
from tests.test_k3s_scripts import OLD, SERVER, SETTINGS, TOKEN, pin_standin, seed_installer
from tests.tools import require_tool

COMMAND = "command:remote:Command"
ACCESS, SECRET = "backup-access-7c1d", "backup-secret-9f3e"
S3 = render.EtcdS3(endpoint="minio.lan:9000", bucket="homelab-backups", folder="k3s/test")
SNAPSHOTS = render.EtcdSnapshots(schedule_cron="0 */6 * * *", retention=28, s3=S3)
SNAP_DIR = render.SNAPSHOT_DIR.lstrip("/")
SERVER_LOG = "var/log/k3s-server-standin.log"


def config_with_snapshots() -> dict:
    settings = render.ServerSettings(**{**SETTINGS.__dict__, "snapshots": SNAPSHOTS})
    return render.server_config(SERVER, settings, ["192.168.30.11"], None)


def test_server_config_schedules_snapshots_and_copies_them_to_s3_without_credentials():
    config = config_with_snapshots()
    assert {k: v for k, v in config.items() if k.startswith("etcd-")} == {
        "etcd-snapshot-schedule-cron": "0 */6 * * *",
        "etcd-snapshot-retention": 28,
        "etcd-s3": True,
        "etcd-s3-endpoint": "minio.lan:9000",
        "etcd-s3-bucket": "homelab-backups",
        "etcd-s3-folder": "k3s/test",
        "etcd-s3-region": "us-east-1",
    }
    assert check_cron(config["etcd-snapshot-schedule-cron"])
    assert not any("access-key" in k or "secret-key" in k for k in config)
    without = render.server_config(SERVER, SETTINGS, ["192.168.30.11"], None)
    assert not any(k.startswith("etcd-") for k in without)


def test_credentials_drop_in_holds_only_the_two_keys():
    assert yaml.safe_load(render.s3_credentials_yaml(ACCESS, SECRET)) == {
        "etcd-s3-access-key": ACCESS, "etcd-s3-secret-key": SECRET}
    script = render.etcd_backup_script("k3s-1", True, s3=True)
    assert ACCESS not in script and SECRET not in script


@pytest.mark.system
def test_backup_and_restore_scripts_pass_shellcheck(tmp_path: Path):
    require_tool("shellcheck")
    scripts = {
        "backup-s3.sh": render.etcd_backup_script("k3s-1", True, s3=True),
        "backup-local.sh": render.etcd_backup_script("k3s-2", False, s3=False),
        "remove.sh": render.etcd_backup_remove_script("k3s-1"),
        "restore-first.sh": render.restore_script("k3s-1", True),
        "restore-join.sh": render.restore_script("k3s-2", False),
    }
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
    done = subprocess.run(["shellcheck", "--severity=style", *[str(tmp_path / n) for n in scripts]],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("env", ["mirkwood", "lothlorien"])
def test_synth_servers_snapshot_to_s3_and_credentials_travel_on_stdin_only(env, synth_result):
    run = synth_result(env)
    backups = [r for r in run.of_type(COMMAND) if r["name"].endswith("-etcd-backup")]
    servers = [r for r in run.of_type(COMMAND) if re.fullmatch(rf"{env}-server-[a-z0-9-]+-k3s-s\d", r["name"])]
    assert backups and len(backups) == len(servers)
    for command in backups:
        assert command["inputs"]["stdin"] == MASK
        assert "etcd-s3-access-key" not in command["inputs"]["create"]
        server = next(s for s in servers if command["name"].startswith(s["name"]))
        assert command["urn"] in server["dependencies"]  # the drop-in exists before k3s starts
        assert "etcd-s3: true" in server["inputs"]["create"]
    # Nothing the synth wrote carries a credential of the store in clear.
    for text in run.artifacts.values():
        assert "synth-placeholder-backupS3" not in text


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pin_standin(monkeypatch)
    root = make_rootfs(tmp_path)
    seed_installer(root, OLD)
    script = render.install_script(SERVER, OLD, config_with_snapshots(), ready_timeout=30)
    done = run_in_rootfs(root, script, stdin=TOKEN)  # a script without secret files: the token alone
    assert done.returncode == 0, done.stderr
    return root


@pytest.mark.system
def test_credentials_drop_in_is_written_from_stdin_once_and_the_restore_script_installed(installed: Path):
    root = installed
    credentials = render.s3_credentials_yaml(ACCESS, SECRET)
    first = run_in_rootfs(root, render.etcd_backup_script("k3s-1", True, s3=True), stdin=credentials)
    assert first.returncode == 0, first.stderr
    drop_in = root / render.S3_CREDENTIALS_FILE.lstrip("/")
    assert yaml.safe_load(drop_in.read_text()) == {"etcd-s3-access-key": ACCESS, "etcd-s3-secret-key": SECRET}
    assert drop_in.stat().st_mode & 0o777 == 0o600
    restore = root / render.RESTORE_PATH.lstrip("/")
    assert restore.read_text() == render.restore_script("k3s-1", True)
    assert restore.stat().st_mode & 0o777 == 0o700
    assert SECRET not in (root / "etc/rancher/k3s/config.yaml").read_text()
    assert SECRET not in first.stdout + first.stderr
    before = drop_in.stat().st_mtime_ns
    again = run_in_rootfs(root, render.etcd_backup_script("k3s-1", True, s3=True), stdin=credentials)
    assert again.returncode == 0 and drop_in.stat().st_mtime_ns == before  # unchanged: not rewritten
    empty = run_in_rootfs(root, render.etcd_backup_script("k3s-1", True, s3=True), stdin="")
    assert empty.returncode != 0 and "no S3 credentials on stdin" in empty.stderr


@pytest.mark.system
def test_restore_resets_the_first_server_to_a_local_or_s3_snapshot(installed: Path):
    root = installed
    assert run_in_rootfs(root, render.etcd_backup_script("k3s-1", True, s3=True),
                         stdin=render.s3_credentials_yaml(ACCESS, SECRET)).returncode == 0
    (root / SNAP_DIR).mkdir(parents=True, exist_ok=True)
    (root / SNAP_DIR / "etcd-snapshot-k3s-1-1767225600").write_text("snapshot")

    local = run_in_rootfs(root, f"{render.RESTORE_PATH} etcd-snapshot-k3s-1-1767225600\n")
    assert local.returncode == 0, local.stderr
    from_s3 = run_in_rootfs(root, f"{render.RESTORE_PATH} etcd-snapshot-k3s-2-1767225600\n")
    assert from_s3.returncode == 0, from_s3.stderr
    assert (root / SERVER_LOG).read_text().splitlines() == [
        f"server --cluster-reset --cluster-reset-restore-path={render.SNAPSHOT_DIR}/etcd-snapshot-k3s-1-1767225600",
        "server --cluster-reset --etcd-s3 --cluster-reset-restore-path=etcd-snapshot-k3s-2-1767225600",
    ]
    missing = run_in_rootfs(root, f"{render.RESTORE_PATH} /root/no-such-snapshot\n")
    assert missing.returncode != 0 and "snapshot /root/no-such-snapshot not found" in missing.stderr
    usage = run_in_rootfs(root, f"{render.RESTORE_PATH}\n")
    assert usage.returncode != 0 and "usage:" in usage.stderr
    assert len((root / SERVER_LOG).read_text().splitlines()) == 2  # neither reached k3s


@pytest.mark.system
def test_restore_on_a_joining_server_drops_its_etcd_data(installed: Path):
    root = installed
    assert run_in_rootfs(root, render.etcd_backup_script("k3s-2", False, s3=False)).returncode == 0
    db = root / "var/lib/rancher/k3s/server/db/etcd"
    db.mkdir(parents=True)
    (db / "member").write_text("old member")
    done = run_in_rootfs(root, f"{render.RESTORE_PATH}\n")
    assert done.returncode == 0, done.stderr
    assert not (root / "var/lib/rancher/k3s/server/db").exists()
    assert not (root / SERVER_LOG).exists()  # a joining server never resets the cluster
