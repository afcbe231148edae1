"""Incus custom volumes exported off their host: one CronJob per volume on the lab's cluster.

Why a CronJob and not a timer on the Incus host: the program reaches Incus only through its API (the
lxc/incus provider with a trusted client certificate), the Incus remotes are not hosts it provisions
over SSH, and the cluster already holds the store's credentials and runs the other backups the same
way (components/backups/apps.py). The export speaks the same API with a dedicated certificate.

Each job: the init container (pinned python, standard library, scripts/incus-export.py) asks Incus
for a volume backup (a plain tarball, not the pool driver's optimized format, so it imports into a
pool of any driver), waits for the operation, downloads the file into the emptyDir and deletes the
backup on the server (it also expires there after a day); then the rclone container
(apps.upload_container, render.upload_script) uploads it to <bucket>/incus/<remote>/<volume>/<UTC stamp>/
and deletes that volume's exports older than the retention.

Credentials: a Secret per remote with the client certificate and key (trusted by the remote with
`incus config trust add-certificate --restricted --projects <project>`: it cannot reach other
projects or the server's configuration) and the remote's server certificate, which the script pins.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.backups import render
from components.incus.container import data_volume_name
from components.backups.apps import BACKUP_DIR, PYTHON_IMAGE, StoreEnv, _volume, cron_job
from components.mtig import k8s as kh

TYPE = "homelab:backups:IncusExports"
STORE_SECRET = "backup-store"
SCRIPTS = "incus-export-scripts"
EXPORT_SCRIPT = "incus-export.py"
UPLOAD_SCRIPT = "upload.sh"
EXPORT_UID = 1000
CREDENTIALS_DIR = "/incus"
EXPORT_ROOT = f"{BACKUP_DIR}/incus"
JOB_NAME_LIMIT = 52  # Kubernetes: a CronJob's name leaves room for the Job suffix


@dataclass(frozen=True)
class RemoteCredentials:
    client_cert: pulumi.Input[str]  # PEM, trusted by the remote (restricted to the volumes' project)
    client_key: pulumi.Input[str]  # PEM, a secret
    server_cert: pulumi.Input[str]  # PEM, the remote's own certificate: pinned by the export


@dataclass(frozen=True)
class IncusVolume:
    """One custom volume to export, and how."""

    instance: str  # the instance whose data volume it is (names the job)
    remote: str
    url: str  # the remote's API, https://host:port
    pool: str
    volume: pulumi.Input[str]  # the volume's name (from the StorageVolume resource)
    schedule: str
    retention_days: int
    compression: str = "gzip"
    snapshots: bool = False
    project: str | None = None
    target: str | None = None  # cluster member holding a local pool's volume
    after: tuple[pulumi.Resource, ...] = ()


@dataclass(frozen=True)
class IncusExportsArgs:
    namespace: str
    store_scheme: str
    store_endpoint: str
    store_region: str
    bucket: str
    access_key: pulumi.Input[str]
    secret_key: pulumi.Input[str]
    credentials: Mapping[str, RemoteCredentials]
    volumes: tuple[IncusVolume, ...]


def job_name(instance: str) -> str:
    """The CronJob's name: incus-<instance>, shortened with a digest when too long."""
    name = f"incus-{instance}"
    if len(name) <= JOB_NAME_LIMIT:
        return name
    return f"{name[:JOB_NAME_LIMIT - 9]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def prefix(remote: str, instance: str) -> str:
    """Where the exports of an instance's data volume live in the bucket."""
    return f"incus/{remote}/{data_volume_name(instance)}"


def upload_config_map(instance: str) -> str:
    return f"incus-upload-{instance}"


def credentials_secret(remote: str) -> str:
    return f"incus-export-{remote}"


def export_env(volume: IncusVolume) -> list[k8s.core.v1.EnvVarArgs]:
    """The export script's environment (see scripts/incus-export.py); nothing secret in it."""
    values = {
        "INCUS_URL": volume.url, "INCUS_POOL": volume.pool, "INCUS_VOLUME": volume.volume,
        "INCUS_PROJECT": volume.project or "", "INCUS_TARGET": volume.target or "",
        "INCUS_COMPRESSION": volume.compression, "INCUS_SNAPSHOTS": "true" if volume.snapshots else "false",
        "INCUS_CLIENT_CERT": f"{CREDENTIALS_DIR}/tls.crt", "INCUS_CLIENT_KEY": f"{CREDENTIALS_DIR}/tls.key",
        "INCUS_SERVER_CERT": f"{CREDENTIALS_DIR}/server.crt", "INCUS_WAIT_SECONDS": "3600",
        "EXPORT_DIR": EXPORT_ROOT, "PYTHONDONTWRITEBYTECODE": "1",
    }
    return [k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in values.items()]


def export_container(volume: IncusVolume) -> k8s.core.v1.ContainerArgs:
    return k8s.core.v1.ContainerArgs(
        name="incus-export",
        image=PYTHON_IMAGE,
        command=["python3", f"/scripts/{EXPORT_SCRIPT}"],
        env=export_env(volume),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="backup", mount_path=BACKUP_DIR),
            k8s.core.v1.VolumeMountArgs(name="scripts", mount_path="/scripts", read_only=True),
            k8s.core.v1.VolumeMountArgs(name="incus", mount_path=CREDENTIALS_DIR, read_only=True),
        ],
        resources=kh.JOB_SIZE.args(),
        security_context=kh.restricted_container_security(),
    )


class IncusExports(pulumi.ComponentResource):
    cron_jobs: dict[str, k8s.batch.v1.CronJob]

    def __init__(self, name: str, args: IncusExportsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        labels = kh.labels("incus-export")
        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(
            name=args.namespace, labels=labels), opts=pulumi.ResourceOptions(parent=self))
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])  # the namespace by name only
        self.store = k8s.core.v1.Secret(
            f"{name}-store",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORE_SECRET, namespace=args.namespace, labels=labels),
            type="Opaque",
            string_data={"access-key": pulumi.Output.secret(args.access_key),
                         "secret-key": pulumi.Output.secret(args.secret_key)},
            opts=in_ns,
        )
        self.credentials = {
            remote: k8s.core.v1.Secret(
                f"{name}-{remote}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=credentials_secret(remote), namespace=args.namespace,
                                                    labels=labels),
                type="Opaque",
                string_data={"tls.crt": pulumi.Output.secret(creds.client_cert),
                             "tls.key": pulumi.Output.secret(creds.client_key),
                             "server.crt": pulumi.Output.secret(creds.server_cert)},
                opts=in_ns,
            )
            for remote, creds in sorted(args.credentials.items())
        }
        self.scripts = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SCRIPTS, namespace=args.namespace, labels=labels),
            data={EXPORT_SCRIPT: render.INCUS_EXPORT_SCRIPT},
            opts=in_ns,
        )
        # Each volume's upload (its own prefix and retention) in a ConfigMap of its own, under the key
        # upload.sh: a key named after the instance (e.g. "mosquitto") would read as that service's config.
        self.uploads = {
            volume.instance: k8s.core.v1.ConfigMap(
                f"{name}-{volume.instance}-upload",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=upload_config_map(volume.instance), namespace=args.namespace,
                                                    labels=labels),
                data={UPLOAD_SCRIPT: render.upload_script(prefix(volume.remote, volume.instance), EXPORT_ROOT,
                                                          args.bucket, volume.retention_days)},
                opts=in_ns,
            )
            for volume in args.volumes
        }
        store = StoreEnv(args.store_scheme, args.store_endpoint, args.store_region, STORE_SECRET)
        self.cron_jobs = {volume.instance: self._cron_job(name, args, volume, store) for volume in args.volumes}
        self.register_outputs({"cron_jobs": sorted(self.cron_jobs)})

    def _cron_job(self, name: str, args: IncusExportsArgs, volume: IncusVolume, store: StoreEnv) -> k8s.batch.v1.CronJob:
        volumes = [
            # /scripts: the export script and this volume's upload.sh, projected from both ConfigMaps.
            _volume("scripts", projected=k8s.core.v1.ProjectedVolumeSourceArgs(default_mode=0o444, sources=[
                k8s.core.v1.VolumeProjectionArgs(config_map=k8s.core.v1.ConfigMapProjectionArgs(name=SCRIPTS)),
                k8s.core.v1.VolumeProjectionArgs(config_map=k8s.core.v1.ConfigMapProjectionArgs(
                    name=upload_config_map(volume.instance))),
            ])),
            _volume("incus", secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=credentials_secret(volume.remote),
                                                                      default_mode=0o440)),
        ]
        return cron_job(
            f"{name}-{volume.instance}", job_name=job_name(volume.instance), label="incus-export",
            namespace=args.namespace, schedule=volume.schedule, upload_script=UPLOAD_SCRIPT,
            store=store, dump=export_container(volume), volumes=volumes, uid=EXPORT_UID, affinity=None,
            # The pods read the Secrets and scripts by name, and export a volume that must exist.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[
                self.store, self.scripts, self.uploads[volume.instance], self.credentials[volume.remote],
                *volume.after]),
        )
