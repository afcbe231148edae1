"""Proxmox backups: pool, memberships and one vzdump job over the pool (components/backups/proxmox.py),
and what the synth registers for each environment."""

from __future__ import annotations

import pulumi
import pytest

from components.backups import Guest, ProxmoxBackup, ProxmoxBackupArgs
from tests.conftest import ENVIRONMENTS, registered

JOB = "proxmoxve:backup/job:Job"
POOL = "proxmoxve:index/poolLegacy:PoolLegacy"
MEMBER = "proxmoxve:pool/membership:Membership"
RETENTION = {"keep-daily": "7", "keep-weekly": "4", "keep-monthly": "6"}


def _backup(name: str, guests: list[Guest], protect: bool = False) -> ProxmoxBackup:
    return ProxmoxBackup(name, ProxmoxBackupArgs(pool="pbt", storage="pbs", schedule="*-*-* 02:30",
                                                 prune_backups=RETENTION, guests=guests, protect=protect))


def _registered(backup: ProxmoxBackup) -> pulumi.Output:
    """Resolves once every child of the component is registered (registrations are asynchronous)."""
    return pulumi.Output.all(backup.pool.urn, backup.job.urn, *[m.urn for m in backup.memberships.values()])


def _one(name: str, type_: str) -> dict:
    found = [r for r in registered(name, type_) if r["name"] == name]
    assert len(found) == 1, f"{name}: {len(found)} registrations of {type_}"
    return found[0]


@pulumi.runtime.test
def test_job_covers_the_pool_and_each_guest_joins_it():
    backup = _backup("pbt-a", [Guest("vm-a", 7101), Guest("ct-b", 7201)], protect=True)

    def check(_):
        job = _one("pbt-a-job", JOB)
        assert job["inputs"] == {
            "resourceId": "homelab-pbt", "pool": "pbt", "storage": "pbs", "schedule": "*-*-* 02:30",
            "mode": "snapshot", "compress": "zstd", "pruneBackups": RETENTION, "enabled": True,
            "repeatMissed": True, "notesTemplate": "{{guestname}}",
        }
        assert "vmids" not in job["inputs"] and "all" not in job["inputs"]  # by pool: no second edit per guest
        assert _one("pbt-a-pool", POOL)["inputs"]["poolId"] == "pbt"
        members = {r["name"]: r for r in registered("pbt-a-member-", MEMBER)}
        assert {n: (m["inputs"]["poolId"], m["inputs"]["vmId"]) for n, m in members.items()} == {
            "pbt-a-member-vm-a": ("pbt", 7101), "pbt-a-member-ct-b": ("pbt", 7201)}
        # Production: job and pool protected; a membership is not (deleting a guest drops only it).
        assert job["options"]["protect"] and _one("pbt-a-pool", POOL)["options"]["protect"]
        assert not any(m["options"]["protect"] for m in members.values())

    return _registered(backup).apply(check)


@pulumi.runtime.test
def test_removing_a_guest_leaves_the_job_and_the_backups_alone():
    """The job does not list guests: a deleted guest changes its membership only, never the job
    (its backups are files on the storage, which no resource here owns)."""
    two = _backup("pbt-two", [Guest("vm-a", 7101), Guest("vm-b", 7102)])
    one = _backup("pbt-one", [Guest("vm-a", 7101)])

    def check(_):
        assert _one("pbt-two-job", JOB)["inputs"] == _one("pbt-one-job", JOB)["inputs"]
        assert len(registered("pbt-two-member-", MEMBER)) == 2 and len(registered("pbt-one-member-", MEMBER)) == 1
        for name in ("pbt-two-job", "pbt-two-pool"):
            assert not any("pbt-two-member" in d for d in _one(name, JOB if name.endswith("job") else POOL)["dependencies"])

    return pulumi.Output.all(_registered(two), _registered(one)).apply(check)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_guest_of_the_environment_is_in_the_backed_up_pool(env, synth_result):
    run = synth_result(env)
    guests = {int(r["inputs"]["vmId"]) for r in run.resources
              if r["type"] in ("proxmoxve:index/vmLegacy:VmLegacy", "proxmoxve:index/containerLegacy:ContainerLegacy")
              and not r["inputs"].get("template")}
    assert guests
    (pool,) = run.of_type(POOL)
    (job,) = run.of_type(JOB)
    members = run.of_type(MEMBER)
    assert {int(m["inputs"]["vmId"]) for m in members} == guests
    assert {m["inputs"]["poolId"] for m in members} == {pool["inputs"]["poolId"]} == {job["inputs"]["pool"]} == {env}
    production = env == "lothlorien"
    assert pool["options"]["protect"] is production and job["options"]["protect"] is production
    if production:
        assert job["inputs"]["storage"] == "pbs"
        assert job["inputs"]["pruneBackups"] == RETENTION
    # Each membership waits for its guest (the guest's own resource or its readiness check).
    guest_urns = {r["urn"] for r in run.resources if r["name"].endswith(("-ready", "-ct"))}
    assert all(set(m["dependencies"]) & guest_urns for m in members)
    assert job["provider"] and all(job["provider"] == m["provider"] for m in members)
