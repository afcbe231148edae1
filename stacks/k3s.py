"""Wiring of the k3s layer: clusters on hosts from the registry (VMs of this program or onboarded)."""

from __future__ import annotations

import pulumi

from components.k3s import Cluster as K3sCluster
from components.k3s import ClusterArgs, K3sNode
from components.k3s import render
from components.k3s.render import EtcdS3, EtcdSnapshots

from .config import backups as bkcfg
from .config.k3s import K3sCluster as ClusterConfig
from .config.k3s import datastore_password_key, registry_password_key, token_key
from .config.model import EnvironmentConfig
from .secrets import Secrets
from .hosts import Cluster, HostRegistry, connection


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry) -> Cluster | None:
    """Install every configured cluster; return the first, which the services layers deploy to."""
    if cfg.k3s is None or not cfg.k3s.clusters:
        return None
    private_key = secrets.require("sshPrivateKey")
    built = [_cluster(cfg, spec, secrets, hosts, private_key) for spec in cfg.k3s.clusters]
    return built[0]


def _cluster(cfg: EnvironmentConfig, spec: ClusterConfig, secrets: Secrets, hosts: HostRegistry, private_key) -> Cluster:
    def node(name: str) -> K3sNode:
        if name not in hosts:
            raise ValueError(f"k3s cluster {spec.name}: host {name!r} is declared but no layer registered it")
        host = hosts.get(name)
        return K3sNode(
            name=host.name,
            address=host.address,
            ssh_user=host.ssh_user,
            connection=connection(host, private_key),
            cluster_address=host.private_address,
            ready=host.ready,
            machine=host.machine,
            labels=spec.node_labels.get(name, {}),
            taints=spec.node_taints.get(name, ()),
            flannel_iface=spec.node_flannel_iface.get(name, spec.flannel_iface),
        )

    component = K3sCluster(
        spec.name,
        ClusterArgs(
            version=spec.version,
            servers=[node(name) for name in spec.servers],
            agents=[node(name) for name in spec.agents],
            cluster_cidr=str(spec.cluster_cidr),
            service_cidr=str(spec.service_cidr),
            disable=spec.disable,
            tls_san=spec.tls_san,
            vip=spec.vip,
            vip_interface=spec.vip_interface,
            token=secrets.get(token_key(cfg, spec)),
            # Servers hold etcd: in production removing one must be a deliberate act.
            protect_servers=cfg.environment.production,
            server_args=spec.server_args,
            agent_args=spec.agent_args,
            flannel_backend=spec.flannel_backend,
            datastore_endpoint=_datastore_endpoint(cfg, spec, secrets),
            registries=_registries(spec, secrets),
            airgap=_airgap(spec),
            **_snapshots(cfg, spec, secrets),
        ),
    )
    return Cluster(
        name=spec.name,
        api_endpoint=component.api_endpoint,
        kubeconfig=component.kubeconfig,
        provider=component.provider,
        version=spec.version,
    )


def _datastore_endpoint(cfg: EnvironmentConfig, spec: ClusterConfig, secrets: Secrets) -> pulumi.Output[str] | None:
    """The external datastore's endpoint with its password: a secret Output, never plain text."""
    store = spec.datastore
    if store is None:
        return None
    password = secrets.require(datastore_password_key(cfg, spec))
    return pulumi.Output.secret(password.apply(lambda value: render.datastore_endpoint(
        store.type, store.host, store.effective_port, store.database, store.user, value, store.params)))


def _registries(spec: ClusterConfig, secrets: Secrets) -> pulumi.Output[str] | None:
    """registries.yaml with the logins' passwords: a secret Output."""
    registry = spec.registry
    if registry is None:
        return None
    names = sorted(registry.logins)
    if not names:  # mirrors only: nothing secret in it, kept secret all the same like every such file
        return pulumi.Output.secret(render.registries_yaml(registry.mirrors, {}))
    passwords = [secrets.require(registry_password_key(name)) for name in names]

    def text(values: list[str]) -> str:
        configs = {}
        for name, password in zip(names, values):
            login = registry.logins[name]
            configs[login.host] = render.RegistryLogin(login.username, password, login.ca_file,
                                                       login.insecure_skip_verify)
        return render.registries_yaml(registry.mirrors, configs)

    return pulumi.Output.secret(pulumi.Output.all(*passwords).apply(text))


def _airgap(spec: ClusterConfig) -> render.Airgap | None:
    if spec.airgap is None:
        return None
    mirror = spec.airgap
    return render.Airgap(mirror.url, mirror.installer_sha256, dict(mirror.binaries), dict(mirror.images))
def _snapshots(cfg: EnvironmentConfig, spec: ClusterConfig, secrets: Secrets) -> dict:
    """The cluster's etcd snapshot settings from the backups section (k3s defaults without it)."""
    snaps = cfg.backups.k3s if cfg.backups is not None else None
    if snaps is None:
        return {}
    store = cfg.backups.store
    s3 = None
    if snaps.s3 and store is not None:
        s3 = EtcdS3(endpoint=store.endpoint, bucket=store.bucket, folder=f"k3s/{spec.name}",
                    region=store.region, insecure=not store.tls)
    extra: dict = {"snapshots": EtcdSnapshots(schedule_cron=snaps.schedule, retention=snaps.retention, s3=s3)}
    if s3 is not None:
        extra.update(s3_access_key=secrets.require(bkcfg.ACCESS_KEY), s3_secret_key=secrets.require(bkcfg.SECRET_KEY))
    return extra
