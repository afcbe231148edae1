"""Backups of every stateful thing: Proxmox guests (vzdump), the k3s datastore (etcd snapshots),
InfluxDB and Grafana (CronJobs), Incus custom volumes (exports by CronJobs), all with retention and,
in production, an off-host target.

```yaml
homelab:backups:
  store:                            # the off-cluster S3-compatible store (MinIO); secrets
    endpoint: minio.lan:9000        #   backupS3AccessKey / backupS3SecretKey
    bucket: homelab-lothlorien      # protected in production (never emptied by the program)
    region: us-east-1
    tls: true                       # https (false: http)
  proxmox:                          # one vzdump job over the environment's resource pool
    pool: lothlorien                # the guests' resource pool (default: the environment's name)
    storage: {id: pbs, kind: pbs}   # kind pbs, nfs or cifs is off the node; dir/lvm/zfs/ceph are not
    schedule: "*-*-* 02:30"         # a Proxmox calendar event (systemd calendar format)
    mode: snapshot                  # snapshot, suspend or stop
    compress: zstd                  # 0, 1, gzip, lzo or zstd
    retention: {keep_last: 3, keep_daily: 7, keep_weekly: 4, keep_monthly: 6, keep_yearly: 1}
  k3s:
    schedule: "0 */6 * * *"         # 5-field cron (etcd-snapshot-schedule-cron)
    retention: 28                   # snapshots kept per node (etcd-snapshot-retention), also on S3
    s3: true                        # copy every snapshot to the store (folder k3s/<cluster>)
  applications:
    schedule: "30 3 * * *"          # 5-field cron of the Kubernetes CronJobs
    retention_days: 30              # older backups are removed from the store
    influxdb: true                  # `influx backup` of the whole instance
    grafana: true                   # Grafana's SQLite database
  incus:                            # per Incus remote: its instances' data volumes exported to the store
    cluster01:                      #   secrets incusBackupCertificate-<remote> / incusBackupKey-<remote>
      schedule: "15 4 * * *"        #   (a restricted client certificate) and incusServerCertificate-<remote>
      retention_days: 14            #   (the remote's server certificate, pinned); 5-field cron as above
      compression: gzip             # Incus compression_algorithm: gzip, zstd, xz, bzip2, lzma or none
      snapshots: false              # include the volume's snapshots in the export
```
A production environment must cover every stateful resource it declares with a backup to an
off-host target (see `checks`): Proxmox guests, the k3s datastore, InfluxDB and Grafana, and every
Incus instance's data volume.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from .base import NO_VALUE, Model, Problem, SecretSpec

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

ACCESS_KEY = "backupS3AccessKey"
SECRET_KEY = "backupS3SecretKey"
_PEM_CERT = {"pattern": r"\s*-----BEGIN CERTIFICATE-----\s+\S[\s\S]*-----END CERTIFICATE-----\s*",
             "form": "a PEM certificate", "template": "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n"}


def incus_client_cert_key(remote: str) -> str:
    """The secret holding the client certificate an Incus remote trusts for exports (restricted)."""
    return f"incusBackupCertificate-{remote}"


def incus_client_key_key(remote: str) -> str:
    """The secret holding that client certificate's private key."""
    return f"incusBackupKey-{remote}"


def incus_server_cert_key(remote: str) -> str:
    """The secret holding the remote's own server certificate, which the export pins."""
    return f"incusServerCertificate-{remote}"


# Proxmox storage types a vzdump target can have; the first three live off the node
# (Proxmox Backup Server, NFS, SMB/CIFS), the others on the node's own disks or its cluster.
OFF_HOST_KINDS = ("pbs", "nfs", "cifs")
StorageKind = Literal["pbs", "nfs", "cifs", "dir", "lvm", "lvmthin", "zfspool", "rbd", "cephfs"]
# Values the bpg provider accepts (fwprovider/cluster/backup/resource.go, stringvalidator.OneOf).
Mode = Literal["snapshot", "suspend", "stop"]
Compress = Literal["0", "1", "gzip", "lzo", "zstd"]

# Proxmox calendar events are a subset of systemd's (pve-docs "Schedule Format"): weekdays, dates,
# times, `*`, `,`, `..` and `/`. The full check is `systemd-analyze calendar` (tests/test_backups_*).
_CALENDAR_CHARS = re.compile(r"^[A-Za-z0-9*:,./ -]+$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3 bucket naming rules
_ENDPOINT = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")


def check_cron(value: str) -> str:
    """A standard 5-field cron expression, as k3s and Kubernetes CronJobs take it (robfig/cron's
    ParseStandard: minute hour day-of-month month day-of-week). Parsed by cronsim."""
    from cronsim import CronSim, CronSimError

    if len(value.split()) != 5:
        raise ValueError("must be a 5-field cron expression (minute hour day month weekday), e.g. '0 */6 * * *'")
    try:
        CronSim(value, datetime(2000, 1, 1))
    except CronSimError as error:
        raise ValueError(f"is not a valid cron expression ({error})") from None
    return value


class Store(Model):
    """The off-cluster S3-compatible object store (MinIO): credentials are secrets."""

    endpoint: str
    bucket: str
    region: str = "us-east-1"
    tls: bool = True

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not _ENDPOINT.match(value):
            raise ValueError("must be host[:port] without scheme, e.g. minio.lan:9000")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET.match(value) or ".." in value:
            raise ValueError("is not an S3 bucket name (3-63 lowercase letters, digits, '.' and '-')")
        return value

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.endpoint}"


class Retention(Model):
    """vzdump's prune-backups: how many daily, weekly and monthly backups to keep."""

    keep_last: int | None = Field(default=None, ge=1)
    keep_daily: int | None = Field(default=None, ge=1)
    keep_weekly: int | None = Field(default=None, ge=1)
    keep_monthly: int | None = Field(default=None, ge=1)
    keep_yearly: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _some(self) -> "Retention":
        if not self.prune_backups():
            raise ValueError("keeps nothing: set at least one of keep_daily, keep_weekly, keep_monthly")
        return self

    def prune_backups(self) -> dict[str, str]:
        """The provider's prune_backups map: keep-daily = "7", ... (strings, keys as vzdump names them)."""
        fields = ("keep_last", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
        return {f.replace("_", "-"): str(getattr(self, f)) for f in fields if getattr(self, f) is not None}


class StorageTarget(Model):
    """A Proxmox storage a backup job writes to, and what kind of storage it is."""

    id: str
    kind: StorageKind

    @property
    def off_host(self) -> bool:
        return self.kind in OFF_HOST_KINDS


class ProxmoxBackup(Model):
    """One vzdump job over the environment's resource pool: a new guest is covered by joining it."""

    storage: StorageTarget
    schedule: str = "*-*-* 02:30"
    mode: Mode = "snapshot"
    compress: Compress = "zstd"
    retention: Retention = Retention(keep_daily=7, keep_weekly=4, keep_monthly=6)
    pool: str | None = None  # defaults to the environment's name

    @field_validator("schedule")
    @classmethod
    def _calendar(cls, value: str) -> str:
        if not value.strip() or not _CALENDAR_CHARS.match(value):
            raise ValueError("is not a Proxmox calendar event such as '*-*-* 02:30' or 'sun 03:00'")
        return value


class K3sSnapshots(Model):
    """Embedded-etcd snapshots of every k3s server, optionally copied to the store."""

    schedule: str = "0 */6 * * *"
    retention: int = Field(default=28, ge=1)
    s3: bool = True

    _cron = field_validator("schedule")(lambda cls, v: check_cron(v))


class Applications(Model):
    """CronJobs that back InfluxDB and Grafana up to the store."""

    schedule: str = "30 3 * * *"
    retention_days: int = Field(default=30, ge=1)
    influxdb: bool = True
    grafana: bool = True

    _cron = field_validator("schedule")(lambda cls, v: check_cron(v))


# Incus's backup compressors (lxc/incus shared/validate/validate.go IsCompressionAlgorithm; the
# server also needs the tool installed). "none" leaves a plain tarball.
IncusCompression = Literal["gzip", "zstd", "xz", "bzip2", "lzma", "none"]


class IncusExport(Model):
    """Exports of one Incus remote's custom data volumes to the store, by CronJobs on the cluster:
    a volume backup (POST .../volumes/custom/<volume>/backups), downloaded (.../export) and uploaded."""

    schedule: str = "15 4 * * *"
    retention_days: int = Field(default=14, ge=1)
    compression: IncusCompression = "gzip"
    snapshots: bool = False  # false: the volume only (`volume_only`), its snapshots stay on the pool

    _cron = field_validator("schedule")(lambda cls, v: check_cron(v))


class Backups(Model):
    """Backups: the store, Proxmox vzdump, k3s etcd snapshots, application data, Incus volume exports."""

    store: Store | None = None
    proxmox: ProxmoxBackup | None = None
    k3s: K3sSnapshots | None = None
    applications: Applications | None = None
    incus: dict[str, IncusExport] = {}  # per Incus remote


def pool_name(cfg: "EnvironmentConfig") -> str:
    """The Proxmox resource pool of the environment's guests."""
    backups = cfg.backups
    configured = backups.proxmox.pool if backups is not None and backups.proxmox is not None else None
    return configured or cfg.environment.name


def secrets(cfg: "EnvironmentConfig") -> Iterable[SecretSpec]:
    if cfg.backups is None:
        return
    if cfg.backups.store is not None:
        yield SecretSpec(ACCESS_KEY, "access key of the off-cluster backup store (S3/MinIO)")
        yield SecretSpec(SECRET_KEY, "secret key of the off-cluster backup store (S3/MinIO)")
    known = cfg.incus.remotes if cfg.incus is not None else {}
    # An unknown remote or one on the local socket is a config error of its own, not a missing secret.
    for remote in sorted(r for r in cfg.backups.incus if r in known and not known[r].address.startswith("unix:")):
        yield SecretSpec(incus_client_cert_key(remote), f"client certificate (PEM) the Incus remote {remote} trusts "
                         "for volume exports (`incus config trust add-certificate --restricted --projects`)", **_PEM_CERT)
        yield SecretSpec(incus_client_key_key(remote), f"private key (PEM) of that client certificate of {remote}")
        yield SecretSpec(incus_server_cert_key(remote), f"the Incus remote {remote}'s own server certificate (PEM, "
                         "servercerts/<remote>.crt after `incus remote add`), pinned by the export", **_PEM_CERT)


def exported_volumes(cfg: "EnvironmentConfig") -> list[tuple[str, str, IncusExport]]:
    """(instance, remote, export) of every Incus data volume whose remote is exported, by instance."""
    if cfg.incus is None or cfg.backups is None:
        return []
    return [(host, inst.remote, cfg.backups.incus[inst.remote]) for host, inst in sorted(cfg.incus.instances.items())
            if inst.data is not None and inst.remote in cfg.backups.incus]


def _incus_checks(cfg: "EnvironmentConfig", backups: Backups) -> Iterable[Problem]:
    known = sorted(cfg.incus.remotes) if cfg.incus is not None else []
    for remote in sorted(backups.incus):
        path = f"backups.incus.{remote}"
        if remote not in known:
            yield Problem(path, remote, f"is not an Incus remote (known remotes: {', '.join(known) or 'none'})")
        elif cfg.incus.remotes[remote].address.startswith("unix:"):
            yield Problem(path, remote, "is reached over the local socket; an export from the cluster needs its "
                                        "https:// address")
        elif not any(i.remote == remote and i.data is not None for i in cfg.incus.instances.values()):
            yield Problem(path, remote, "has no instance with a data volume to export (incus.instances.*.data)")
    if backups.incus and backups.store is None:
        yield Problem("backups.incus", NO_VALUE, "exports to the backup store, but backups.store is not configured")
    if backups.incus and (cfg.k3s is None or not cfg.k3s.clusters):
        yield Problem("backups.incus", NO_VALUE, "runs the exports as CronJobs on the k3s cluster, but k3s is not configured")


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    backups = cfg.backups
    if backups is not None:
        needs_store = [(path, on) for path, on in (
            ("backups.k3s.s3", backups.k3s is not None and backups.k3s.s3),
            ("backups.applications", backups.applications is not None),
        ) if on]
        for path, _ in needs_store:
            if backups.store is None:
                yield Problem(path, "set", "copies to the backup store, but backups.store is not configured")
        for field, section, what in (("applications", "mtig", "InfluxDB and Grafana"), ("proxmox", "proxmox", "Proxmox guests"),
                                     ("k3s", "k3s", "the k3s datastore")):
            if getattr(backups, field) is not None and getattr(cfg, section) is None:
                yield Problem(f"backups.{field}", "set", f"backs up {what}, but {section} is not configured")
        yield from _incus_checks(cfg, backups)
    if cfg.environment.production:
        yield from uncovered(cfg)


def uncovered(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    """Production: each stateful kind the config declares has a backup with an off-host target."""
    backups = cfg.backups or Backups()
    has_store = backups.store is not None
    px = cfg.proxmox
    if px is not None and (px.vms or px.containers):
        job = backups.proxmox
        if job is None:
            yield Problem("backups.proxmox", None, "production Proxmox guests need a backup job (vzdump)")
        elif not job.storage.off_host:
            yield Problem("backups.proxmox.storage.kind", job.storage.kind,
                          f"is on the Proxmox node; production backups need an off-host storage ({', '.join(OFF_HOST_KINDS)})")
    if cfg.k3s is not None and cfg.k3s.clusters:
        snaps = backups.k3s
        if snaps is None or not snaps.s3 or not has_store:
            yield Problem("backups.k3s.s3", None if snaps is None else snaps.s3,
                          "production k3s datastores need etcd snapshots copied to the backup store")
    if cfg.mtig is not None:
        apps = backups.applications
        for app in ("influxdb", "grafana"):
            if apps is None or not getattr(apps, app) or not has_store:
                yield Problem(f"backups.applications.{app}", None if apps is None else getattr(apps, app),
                              f"production {app} data needs a backup to the backup store")
    if cfg.incus is not None:
        # A snapshot on the volume's own pool is not a backup: each data volume's remote exports it.
        for host, inst in sorted(cfg.incus.instances.items()):
            if inst.data is not None and (inst.remote not in backups.incus or not has_store):
                yield Problem(f"backups.incus.{inst.remote}", NO_VALUE,
                              f"production Incus volume {host}-data (incus.instances.{host}.data) needs an export "
                              "to the backup store (its snapshots stay on the same pool)")
