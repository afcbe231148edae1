"""The whole program: the layers in order, top-down."""

from __future__ import annotations

from . import backups, incus, k3s, linode, monitoring, mtig, onboard, outputs, proxmox
from .config.model import EnvironmentConfig
from .secrets import Secrets
from .hosts import HostRegistry


def main(cfg: EnvironmentConfig, secrets: Secrets) -> None:
    """Hypervisors and cloud -> hosts -> clusters -> services -> outputs."""
    hosts = HostRegistry()
    proxmox_provider = proxmox.deploy(cfg, secrets, hosts)
    linode.deploy(cfg, secrets, hosts)
    incus.deploy(cfg, secrets, hosts)
    onboard.deploy(cfg, secrets, hosts)
    cluster = k3s.deploy(cfg, secrets, hosts)
    metrics = mtig.deploy(cfg, secrets, cluster)  # with the monitoring layer's Grafana datasources
    mon = monitoring.deploy(cfg, secrets, cluster, metrics, hosts)
    backups.deploy(cfg, secrets, hosts, proxmox_provider, cluster, metrics)
    outputs.export(cfg, hosts, cluster, metrics, mon)
