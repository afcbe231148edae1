"""Proxmox backups: the environment's resource pool, each guest's membership, one vzdump job.

Provider facts (bpg/terraform-provider-proxmox, the provider behind pulumi-proxmoxve 8.6.0):
- `proxmoxve.backup.Job` (fwprovider/cluster/backup/resource.go): `id` (here `resource_id`) forces
  a replacement, everything else updates in place; `schedule` is a calendar event; `mode` is one of
  snapshot/suspend/stop, `compress` one of 0/1/gzip/lzo/zstd; `prune_backups` is a map of
  `keep-*` to a number as string, sent as `keep-daily=7,...` (model.go); `pool`, `vmid` and `all`
  exclude each other (ConfigValidators).
- `proxmoxve.PoolLegacy` (proxmoxtf/resource/pool/pool.go): `pool_id` is ForceNew.
- `proxmoxve.pool.Membership` (fwprovider/pools/pool_membership.go): `pool_id` and `vm_id` force a
  replacement. The VM resource never fights it: a VM without `pool_id` suppresses the diff of an
  observed pool (proxmoxtf/resource/vm/vm.go, `mkPoolID` DiffSuppressFunc), so guests need no edit.
Backups are files on the target storage, not children of anything here: deleting a guest deletes
its membership only; vzdump's pruning touches the guests a job still backs up, never a deleted one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_proxmoxve as proxmoxve

TYPE = "homelab:backups:ProxmoxBackup"


@dataclass(frozen=True)
class Guest:
    """A VM or container to back up: its VMID and what must exist before it can join the pool."""

    name: str
    vm_id: int
    after: Sequence[pulumi.Resource] = ()


@dataclass(frozen=True)
class ProxmoxBackupArgs:
    pool: str
    storage: str
    schedule: str
    prune_backups: Mapping[str, str]
    mode: str = "snapshot"
    compress: str = "zstd"
    guests: Sequence[Guest] = ()
    protect: bool = False  # production: pool and job are never removed by accident
    description: str = ""
    notes_template: str = "{{guestname}}"


def job_id(pool: str) -> str:
    """The job's id in /etc/pve/jobs.cfg: stable per pool (a new id would replace the job)."""
    return f"homelab-{pool}"


class ProxmoxBackup(pulumi.ComponentResource):
    pool: proxmoxve.PoolLegacy
    job: proxmoxve.backup.Job
    memberships: dict[str, proxmoxve.pool.Membership]

    def __init__(self, name: str, args: ProxmoxBackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect)
        self.pool = proxmoxve.PoolLegacy(
            f"{name}-pool",
            pool_id=args.pool,
            comment=args.description or f"guests of {args.pool}; backed up by job {job_id(args.pool)}",
            opts=kept,
        )
        self.memberships = {}
        for guest in args.guests:
            self.memberships[guest.name] = proxmoxve.pool.Membership(
                f"{name}-member-{guest.name}",
                pool_id=self.pool.pool_id,
                vm_id=guest.vm_id,
                # The guest must exist before it can join; its VMID is plain config.
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(guest.after)),
            )
        # By pool, not by VMID list: a new guest is covered by its membership, the job never changes.
        self.job = proxmoxve.backup.Job(
            f"{name}-job",
            resource_id=job_id(args.pool),
            pool=self.pool.pool_id,
            storage=args.storage,
            schedule=args.schedule,
            mode=args.mode,
            compress=args.compress,
            prune_backups=dict(args.prune_backups),
            enabled=True,
            repeat_missed=True,
            notes_template=args.notes_template,
            opts=kept,
        )
        self.register_outputs({"pool": self.pool.pool_id, "job": self.job.resource_id})
