"""Application backups on the cluster: InfluxDB and Grafana to the off-cluster store by CronJobs.

Each CronJob dumps into an emptyDir with an init container, then the pinned rclone uploads the
dump under <bucket>/<app>/<UTC stamp>/ and deletes that app's backups older than the retention.
The store's keys reach the pods only from a Secret (RCLONE_CONFIG_STORE_ACCESS_KEY_ID/_SECRET_ACCESS_KEY).
- InfluxDB: `influx backup` of the whole instance (operator token from the chart's Secret) with
  the InfluxDB image itself (its CLI matches the server).
- Grafana: its SQLite database, copied with sqlite3's online backup API from the Grafana volume
  mounted read-only; the pod runs beside Grafana (the volume is ReadWriteOnce: one node).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.backups import render
from components.mtig import k8s as kh
from components.mtig import versions as mtig_versions

TYPE = "homelab:backups:AppBackups"
STORE_SECRET = "backup-store"
SCRIPTS = "backup-scripts"
# Pinned images (tests/test_backups_apps.py refuses a floating tag; Renovate reads the annotations).
# renovate: datasource=docker depName=rclone/rclone
RCLONE_IMAGE = "rclone/rclone:1.68.2"
# renovate: datasource=docker depName=python
PYTHON_IMAGE = "python:3.12.8-alpine"
GRAFANA_UID = 472  # the grafana chart's runAsUser/fsGroup: the owner of grafana.db
INFLUX_UID = 1000
BACKUP_DIR = "/backup"


@dataclass(frozen=True)
class InfluxSource:
    url: pulumi.Input[str]  # in-cluster URL of the InfluxDB API
    token_secret: str  # Secret holding the operator token (influx backup needs it)
    token_key: str
    after: tuple[pulumi.Resource, ...] = ()


@dataclass(frozen=True)
class GrafanaSource:
    claim: str  # Grafana's data PersistentVolumeClaim
    after: tuple[pulumi.Resource, ...] = ()


@dataclass(frozen=True)
class AppBackupsArgs:
    namespace: pulumi.Input[str]
    store_scheme: str
    store_endpoint: str
    store_region: str
    bucket: str
    access_key: pulumi.Input[str]
    secret_key: pulumi.Input[str]
    schedule: str
    retention_days: int
    influxdb: InfluxSource | None = None
    grafana: GrafanaSource | None = None


def _volume(name: str, **source) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(name=name, **source)


class AppBackups(pulumi.ComponentResource):
    cron_jobs: dict[str, k8s.batch.v1.CronJob]

    def __init__(self, name: str, args: AppBackupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = kh.labels("backup")
        self.store = k8s.core.v1.Secret(
            f"{name}-store",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORE_SECRET, namespace=args.namespace, labels=labels),
            type="Opaque",
            string_data={"access-key": pulumi.Output.secret(args.access_key),
                         "secret-key": pulumi.Output.secret(args.secret_key)},
            opts=child,
        )
        scripts: dict[str, pulumi.Input[str]] = {"grafana-db-backup.py": render.GRAFANA_DB_SCRIPT}
        for app in ("influxdb", "grafana"):
            scripts[f"upload-{app}.sh"] = render.upload_script(app, f"{BACKUP_DIR}/{app}", args.bucket, args.retention_days)
        if args.influxdb is not None:
            # The restore, kept beside the backups it reads (README "Backups and restore").
            remote = render.remote_env(args.store_scheme, args.store_endpoint, args.store_region)
            scripts["influx-restore.sh"] = pulumi.Output.from_input(args.influxdb.url).apply(
                lambda url: render.influx_restore_script(args.bucket, "influxdb", url, mtig_versions.INFLUXDB_IMAGE_TAG,
                                                         remote))
        self.scripts = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SCRIPTS, namespace=args.namespace, labels=labels),
            data=scripts,
            opts=child,
        )
        self.cron_jobs = {}
        if args.influxdb is not None:
            self.cron_jobs["influxdb"] = self._cron_job(name, "influxdb", args, self._influx_dump(args.influxdb),
                                                        [], INFLUX_UID, None, args.influxdb.after)
        if args.grafana is not None:
            data = _volume("grafana-data", persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                claim_name=args.grafana.claim, read_only=True))
            self.cron_jobs["grafana"] = self._cron_job(name, "grafana", args, self._grafana_dump(), [data],
                                                       GRAFANA_UID, _beside("grafana"), args.grafana.after)
        self.register_outputs({"cron_jobs": sorted(self.cron_jobs)})

    @staticmethod
    def _influx_dump(source: InfluxSource) -> k8s.core.v1.ContainerArgs:
        return k8s.core.v1.ContainerArgs(
            name="influx-backup",
            image=mtig_versions.INFLUXDB_IMAGE,
            command=["influx", "backup", f"{BACKUP_DIR}/influxdb"],
            env=[
                k8s.core.v1.EnvVarArgs(name="INFLUX_HOST", value=source.url),
                k8s.core.v1.EnvVarArgs(name="INFLUX_TOKEN", value_from=k8s.core.v1.EnvVarSourceArgs(
                    secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=source.token_secret, key=source.token_key))),
                k8s.core.v1.EnvVarArgs(name="HOME", value=f"{BACKUP_DIR}/home"),
            ],
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="backup", mount_path=BACKUP_DIR)],
            resources=kh.JOB_SIZE.args(),
            security_context=kh.restricted_container_security(),
        )

    @staticmethod
    def _grafana_dump() -> k8s.core.v1.ContainerArgs:
        return k8s.core.v1.ContainerArgs(
            name="grafana-db",
            image=PYTHON_IMAGE,
            command=["sh", "-c", 'mkdir -p "$0" && exec python3 /scripts/grafana-db-backup.py "$1" "$0/grafana.db"',
                     f"{BACKUP_DIR}/grafana", "/var/lib/grafana/grafana.db"],
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="backup", mount_path=BACKUP_DIR),
                k8s.core.v1.VolumeMountArgs(name="grafana-data", mount_path="/var/lib/grafana", read_only=True),
                k8s.core.v1.VolumeMountArgs(name="scripts", mount_path="/scripts", read_only=True),
            ],
            resources=kh.JOB_SIZE.args(),
            security_context=kh.restricted_container_security(),
        )

    def _cron_job(self, name: str, app: str, args: AppBackupsArgs, dump: k8s.core.v1.ContainerArgs,
                  volumes: list, uid: int, affinity, after: tuple[pulumi.Resource, ...]) -> k8s.batch.v1.CronJob:
        store = StoreEnv(args.store_scheme, args.store_endpoint, args.store_region, STORE_SECRET)
        return cron_job(f"{name}-{app}", job_name=f"{app}-backup", label=f"{app}-backup", namespace=args.namespace,
                        schedule=args.schedule, upload_script=f"upload-{app}.sh", store=store, dump=dump,
                        volumes=[_volume("scripts", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                            name=SCRIPTS, default_mode=0o444)), *volumes],
                        uid=uid, affinity=affinity, opts=pulumi.ResourceOptions(
                            # The pods read the store Secret and the scripts by name, and back up an
                            # application that must exist: none of that shows in the data.
                            parent=self, depends_on=[self.store, self.scripts, *after]))


@dataclass(frozen=True)
class StoreEnv:
    """How a backup pod reaches the store: the rclone remote's settings and the Secret with its keys."""

    scheme: str
    endpoint: str
    region: str
    secret: str  # a Secret with access-key and secret-key in the pod's namespace


def upload_container(script: str, store: StoreEnv) -> k8s.core.v1.ContainerArgs:
    """The pinned rclone running /scripts/<script> (render.upload_script) on /backup."""
    return k8s.core.v1.ContainerArgs(
        name="upload",
        image=RCLONE_IMAGE,
        command=["/bin/sh", f"/scripts/{script}"],
        env=[
            *[k8s.core.v1.EnvVarArgs(name=key, value=value)
              for key, value in render.remote_env(store.scheme, store.endpoint, store.region)],
            *[k8s.core.v1.EnvVarArgs(name=env, value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=store.secret, key=key)))
              for env, key in ((render.ACCESS_KEY_ENV, "access-key"), (render.SECRET_KEY_ENV, "secret-key"))],
            k8s.core.v1.EnvVarArgs(name="HOME", value=f"{BACKUP_DIR}/home"),
        ],
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="backup", mount_path=BACKUP_DIR),
            k8s.core.v1.VolumeMountArgs(name="scripts", mount_path="/scripts", read_only=True),
        ],
        resources=kh.JOB_SIZE.args(),
        security_context=kh.restricted_container_security(),
    )


def cron_job(resource_name: str, *, job_name: str, label: str, namespace: pulumi.Input[str], schedule: str,
             upload_script: str, store: StoreEnv, dump: k8s.core.v1.ContainerArgs, volumes: list, uid: int,
             affinity, opts: pulumi.ResourceOptions) -> k8s.batch.v1.CronJob:
    """A backup CronJob: `dump` (an init container) fills the emptyDir /backup, then rclone uploads it
    to the store and applies the retention. `volumes` must include the `scripts` volume."""
    labels = kh.labels(label)
    pod = k8s.core.v1.PodSpecArgs(
        restart_policy="OnFailure",
        automount_service_account_token=False,
        security_context=kh.pod_security(uid),
        affinity=affinity,
        init_containers=[dump],
        containers=[upload_container(upload_script, store)],
        volumes=[_volume("backup", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()), *volumes],
    )
    return k8s.batch.v1.CronJob(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=namespace, labels=labels),
        spec=k8s.batch.v1.CronJobSpecArgs(
            schedule=schedule,
            concurrency_policy="Forbid",
            successful_jobs_history_limit=3,
            failed_jobs_history_limit=3,
            job_template=k8s.batch.v1.JobTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.batch.v1.JobSpecArgs(
                    backoff_limit=2,
                    template=k8s.core.v1.PodTemplateSpecArgs(metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                                                             spec=pod),
                ),
            ),
        ),
        opts=opts,
    )


def _beside(app: str) -> k8s.core.v1.AffinityArgs:
    """On the node of the app's pod: its ReadWriteOnce volume can be mounted only there."""
    return k8s.core.v1.AffinityArgs(pod_affinity=k8s.core.v1.PodAffinityArgs(
        required_during_scheduling_ignored_during_execution=[k8s.core.v1.PodAffinityTermArgs(
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": app}),
            topology_key="kubernetes.io/hostname",
        )],
    ))
