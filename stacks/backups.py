"""Wiring of the backups layer: the Proxmox pool and vzdump job, the application CronJobs, the Incus
volume exports, and the `backups` entry of the stack contract (what is backed up where; no credential)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pulumi

from components.backups import (AppBackups, AppBackupsArgs, GrafanaSource, Guest, InfluxSource, ProxmoxBackup,
                                ProxmoxBackupArgs)
from components.backups.incus import IncusExports, IncusExportsArgs, IncusVolume, RemoteCredentials
from components.backups.incus import prefix as export_prefix
from components.backups.store import Store, StoreArgs
from components.incus.container import data_volume_name
from components.backups.pvemetrics import ProxmoxMetrics, ProxmoxMetricsArgs
from components.mtig.grafana import DATA_CLAIM as GRAFANA_CLAIM
from components.mtig.influxdb import AUTH_SECRET as INFLUX_AUTH_SECRET

from .config import backups as bkcfg
from .config import pvemetrics as pmcfg
from .config.model import EnvironmentConfig
from .hosts import Cluster, HostRegistry
from .secrets import Secrets


#: The namespace of the Incus export CronJobs (their own: they need no application's namespace).
INCUS_EXPORT_NAMESPACE = "backups"


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry, proxmox_provider: Any,
           cluster: Cluster | None, metrics: Any, incus_containers: dict[str, Any] | None = None) -> None:
    """Declare the backups the config asks for."""
    if cfg.proxmox_metrics is not None and None not in (proxmox_provider, cluster, metrics):
        _proxmox_metrics(cfg, secrets, proxmox_provider, cluster, metrics)
    backups = cfg.backups
    if backups is None:
        return
    if backups.store is not None:
        _store(cfg, secrets)
    if backups.proxmox is not None and proxmox_provider is not None:
        _proxmox(cfg, hosts, proxmox_provider)
    if backups.applications is not None and backups.store is not None and cluster is not None and metrics is not None:
        _applications(cfg, secrets, cluster, metrics)
    if bkcfg.exported_volumes(cfg) and backups.store is not None and cluster is not None:
        _incus(cfg, secrets, cluster, incus_containers or {})


def _store(cfg: EnvironmentConfig, secrets: Secrets) -> Store:
    store = cfg.backups.store
    return Store("backup-store", StoreArgs(
        endpoint=store.endpoint, bucket=store.bucket, region=store.region, tls=store.tls,
        access_key=secrets.require(bkcfg.ACCESS_KEY), secret_key=secrets.require(bkcfg.SECRET_KEY),
        protect=cfg.environment.production,
    ))


def _proxmox(cfg: EnvironmentConfig, hosts: HostRegistry, provider: Any) -> ProxmoxBackup:
    px, job = cfg.proxmox, cfg.backups.proxmox
    guests = [Guest(name=g.name, vm_id=g.vm_id, after=tuple(hosts.get(g.name).ready))
              for g in (*px.vms, *px.containers)]
    return ProxmoxBackup(
        "backup",
        ProxmoxBackupArgs(
            pool=bkcfg.pool_name(cfg),
            storage=job.storage.id,
            schedule=job.schedule,
            prune_backups=job.retention.prune_backups(),
            mode=job.mode,
            compress=job.compress,
            guests=guests,
            protect=cfg.environment.production,
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )


def _proxmox_metrics(cfg: EnvironmentConfig, secrets: Secrets, provider: Any, cluster: Cluster,
                     metrics: Any) -> ProxmoxMetrics:
    """Proxmox's metrics into the mtig InfluxDB, on the address ServiceLB publishes it (the API's host)."""
    return ProxmoxMetrics(
        "proxmox-metrics",
        ProxmoxMetricsArgs(
            name=f"homelab-{cfg.environment.name}",
            namespace=metrics.namespace,
            address=cluster.api_endpoint.apply(lambda url: urlsplit(url).hostname or ""),
            port=cfg.proxmox_metrics.port,
            org=metrics.org,
            bucket=cfg.proxmox_metrics.bucket_of(cfg),
            token=secrets.require(pmcfg.TOKEN_KEY),
            kubernetes=cluster.provider,
            proxmox=provider,
            after=(metrics.stack.influxdb.release,),
        ),
    )


def _applications(cfg: EnvironmentConfig, secrets: Secrets, cluster: Cluster, metrics: Any) -> AppBackups:
    apps, store = cfg.backups.applications, cfg.backups.store
    stack = metrics.stack
    influx = InfluxSource(url=metrics.influxdb_url, token_secret=INFLUX_AUTH_SECRET, token_key="admin-token",
                          after=(stack.influxdb.release,)) if apps.influxdb else None
    grafana = GrafanaSource(claim=GRAFANA_CLAIM, after=(stack.grafana.release,)) if apps.grafana else None
    return AppBackups(
        "backup-apps",
        AppBackupsArgs(
            namespace=metrics.namespace,
            store_scheme="https" if store.tls else "http",
            store_endpoint=store.endpoint,
            store_region=store.region,
            bucket=store.bucket,
            access_key=secrets.require(bkcfg.ACCESS_KEY),
            secret_key=secrets.require(bkcfg.SECRET_KEY),
            schedule=apps.schedule,
            retention_days=apps.retention_days,
            influxdb=influx,
            grafana=grafana,
        ),
        opts=pulumi.ResourceOptions(provider=cluster.provider),
    )


def _incus(cfg: EnvironmentConfig, secrets: Secrets, cluster: Cluster, containers: dict[str, Any]) -> IncusExports:
    """One export CronJob per Incus data volume of an exported remote, on the cluster."""
    store, incus = cfg.backups.store, cfg.incus
    volumes = []
    for host, remote_name, export in bkcfg.exported_volumes(cfg):
        inst, remote = incus.instances[host], incus.remotes[remote_name]
        container = containers.get(host)
        volume = getattr(container, "volume", None)
        volumes.append(IncusVolume(
            instance=host, remote=remote_name, url=remote.address, pool=inst.data.pool or remote.storage_pool,
            volume=volume.name if volume is not None else data_volume_name(host), schedule=export.schedule,
            retention_days=export.retention_days, compression=export.compression, snapshots=export.snapshots,
            project=remote.project, target=None if remote.shared_storage else inst.target,
            after=(volume,) if volume is not None else ()))
    remotes = sorted({v.remote for v in volumes})
    credentials = {r: RemoteCredentials(client_cert=secrets.require(bkcfg.incus_client_cert_key(r)),
                                        client_key=secrets.require(bkcfg.incus_client_key_key(r)),
                                        server_cert=secrets.require(bkcfg.incus_server_cert_key(r))) for r in remotes}
    return IncusExports(
        "backup-incus",
        IncusExportsArgs(
            namespace=INCUS_EXPORT_NAMESPACE, store_scheme="https" if store.tls else "http",
            store_endpoint=store.endpoint, store_region=store.region, bucket=store.bucket,
            access_key=secrets.require(bkcfg.ACCESS_KEY), secret_key=secrets.require(bkcfg.SECRET_KEY),
            credentials=credentials, volumes=tuple(volumes)),
        opts=pulumi.ResourceOptions(provider=cluster.provider),
    )


def contract(cfg: EnvironmentConfig) -> list[dict]:
    """The stack contract's `backups`: one entry per kind of data, where it goes and how long it stays."""
    backups = cfg.backups
    if backups is None:
        return []
    store = backups.store
    out: list[dict] = []
    if backups.proxmox is not None and cfg.proxmox is not None:
        job = backups.proxmox
        out.append({"kind": "proxmox-guests", "what": sorted(g.name for g in (*cfg.proxmox.vms, *cfg.proxmox.containers)),
                    "method": "vzdump", "target": f"proxmox-storage:{job.storage.id}", "off_host": job.storage.off_host,
                    "schedule": job.schedule, "retention": job.retention.prune_backups()})
    if backups.k3s is not None and cfg.k3s is not None:
        snaps = backups.k3s
        for cluster in cfg.k3s.clusters:
            s3 = snaps.s3 and store is not None
            out.append({"kind": "k3s-etcd", "what": [cluster.name], "method": "etcd-snapshot",
                        "target": f"s3://{store.bucket}/k3s/{cluster.name}" if s3 else "server-local",
                        "off_host": s3, "schedule": snaps.schedule, "retention": {"keep-last": str(snaps.retention)}})
    if backups.applications is not None and store is not None and cfg.mtig is not None:
        apps = backups.applications
        for app, method in (("influxdb", "influx-backup"), ("grafana", "sqlite-backup")):
            if getattr(apps, app):
                out.append({"kind": app, "what": [app], "method": method, "target": f"s3://{store.bucket}/{app}",
                            "off_host": True, "schedule": apps.schedule, "retention": {"days": str(apps.retention_days)}})
    if store is not None and cfg.k3s is not None:
        for host, remote, export in bkcfg.exported_volumes(cfg):
            out.append({"kind": "incus-volume", "what": [data_volume_name(host)], "method": "incus-export",
                        "target": f"s3://{store.bucket}/{export_prefix(remote, host)}", "off_host": True,
                        "schedule": export.schedule, "retention": {"days": str(export.retention_days)}})
    return out
