"""The backups config section (stacks/config/backups.py): schedules through their real parsers,
retention in vzdump's terms, the provider's accepted values, and production coverage."""

from __future__ import annotations

import subprocess
import typing

import pytest

from stacks.config import backups as bk
from stacks.config import loader
from synth.engine import stack_entries, synth_config
from tests.conftest import ENVIRONMENTS
from tests.tools import require_tool


def committed(env: str):
    entries, secret_keys, _ = synth_config(env)
    return loader.validate(entries, stack=env, secret_keys=secret_keys)


def calendar_ok(expression: str) -> subprocess.CompletedProcess[str]:
    """Proxmox calendar events are systemd's calendar format (pve-docs "Schedule Format"; the bpg
    provider documents `schedule` as "systemd calendar event format"): systemd-analyze parses them."""
    tool = require_tool("systemd-analyze")
    return subprocess.run([tool, "calendar", expression], capture_output=True, text=True, check=False)


@pytest.mark.system
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_proxmox_schedules_of_the_committed_stacks_parse_as_calendar_events(env):
    cfg = committed(env)
    assert cfg.backups is not None and cfg.backups.proxmox is not None
    done = calendar_ok(cfg.backups.proxmox.schedule)
    assert done.returncode == 0, done.stderr


@pytest.mark.system
def test_the_default_schedule_parses_and_the_parser_refuses_nonsense():
    assert calendar_ok(bk.ProxmoxBackup.model_fields["schedule"].default).returncode == 0
    # The config's cheap check lets these through; the real parser must not.
    for bad in ("bogus 25:00", "*-*-* 02:61", "mon..fri 2:3o"):
        assert bk._CALENDAR_CHARS.match(bad)
        assert calendar_ok(bad).returncode != 0, bad


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cron_schedules_of_the_committed_stacks_are_five_field_cron(env):
    cfg = committed(env)
    for schedule in (cfg.backups.k3s.schedule, cfg.backups.applications.schedule):
        assert bk.check_cron(schedule) == schedule


@pytest.mark.parametrize("bad, message", [
    ("@daily", "must be a 5-field cron expression"),
    ("0 */6 * * * *", "must be a 5-field cron expression"),  # seconds: robfig's standard parser refuses them
    ("0 25 * * *", "is not a valid cron expression"),
    ("0 2 * * 8", "is not a valid cron expression"),
    ("*/0 * * * *", "is not a valid cron expression"),
])
def test_cron_check_refuses_what_k3s_and_kubernetes_refuse(bad, message):
    with pytest.raises(ValueError, match=message):
        bk.check_cron(bad)


def test_retention_is_vzdump_prune_backups():
    retention = bk.Retention(keep_daily=7, keep_weekly=4, keep_monthly=6)
    assert retention.prune_backups() == {"keep-daily": "7", "keep-weekly": "4", "keep-monthly": "6"}
    assert bk.Retention(keep_last=2).prune_backups() == {"keep-last": "2"}
    with pytest.raises(ValueError, match="keeps nothing"):
        bk.Retention()


def test_mode_and_compress_are_what_the_provider_accepts():
    # bpg/terraform-provider-proxmox fwprovider/cluster/backup/resource.go: stringvalidator.OneOf(...)
    assert set(typing.get_args(bk.Mode)) == {"snapshot", "suspend", "stop"}
    assert set(typing.get_args(bk.Compress)) == {"0", "1", "gzip", "lzo", "zstd"}


def test_off_host_storage_kinds():
    assert bk.StorageTarget(id="pbs", kind="pbs").off_host
    assert bk.StorageTarget(id="nas", kind="nfs").off_host
    for kind in ("dir", "lvmthin", "zfspool", "rbd"):
        assert not bk.StorageTarget(id="x", kind=kind).off_host


def test_production_without_backups_is_refused_and_staging_is_not():
    for env, refused in (("lothlorien", True), ("mirkwood", False)):
        entries, secret_keys, _ = synth_config(env)
        entries.pop("homelab:backups")
        if refused:
            with pytest.raises(loader.ConfigError) as caught:
                loader.validate(entries, stack=env, secret_keys=secret_keys)
            assert sorted(caught.value.lines) == [
                "backups.applications.grafana: production grafana data needs a backup to the backup store (got None)",
                "backups.applications.influxdb: production influxdb data needs a backup to the backup store (got None)",
                "backups.incus.cluster01: production Incus volume mosquitto-data (incus.instances.mosquitto.data) "
                "needs an export to the backup store (its snapshots stay on the same pool)",
                "backups.incus.iapetus: production Incus volume atlantis-data (incus.instances.atlantis.data) "
                "needs an export to the backup store (its snapshots stay on the same pool)",
                "backups.k3s.s3: production k3s datastores need etcd snapshots copied to the backup store (got None)",
                "backups.proxmox: production Proxmox guests need a backup job (vzdump) (got None)",
            ]
        else:
            assert loader.validate(entries, stack=env, secret_keys=secret_keys).backups is None


def test_committed_production_covers_everything_off_host():
    cfg = committed("lothlorien")
    assert list(bk.uncovered(cfg)) == []
    assert cfg.backups.proxmox.storage.off_host and cfg.backups.k3s.s3 and cfg.backups.store is not None


def test_store_credentials_are_secrets_and_never_plain():
    entries, _ = stack_entries("lothlorien")
    entries["homelab:backupS3SecretKey"] = "plain-canary"
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="lothlorien")
    assert any(line.startswith("homelab:backupS3SecretKey: looks like a credential but is set in plain text")
               for line in caught.value.lines)
    assert "plain-canary" not in str(caught.value)


def test_a_backup_of_a_section_the_environment_does_not_have_is_refused():
    entries, secret_keys, _ = synth_config("mirkwood")
    for key in ("homelab:mtig", "homelab:monitoring", "homelab:proxmox_metrics"):
        entries.pop(key)
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys=secret_keys)
    assert "backups.applications: backs up InfluxDB and Grafana, but mtig is not configured (got 'set')" in caught.value.lines


@pytest.mark.system
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_registered_backup_job_schedule_is_a_calendar_event(env, synth_result):
    (job,) = synth_result(env).of_type("proxmoxve:backup/job:Job")
    done = calendar_ok(job["inputs"]["schedule"])
    assert done.returncode == 0, done.stderr
