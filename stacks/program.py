"""The whole program: the layers in order, top-down."""

from __future__ import annotations

from . import backups, ca, ci_runner, dns, edge, incus, k3s, linode, monitoring, mtig, onboard, outputs, proxmox
from .config.model import EnvironmentConfig
from .secrets import Secrets
from .hosts import HostRegistry


def main(cfg: EnvironmentConfig, secrets: Secrets) -> None:
    """Hypervisors and cloud -> hosts -> clusters -> services -> outputs."""
    hosts = HostRegistry()
    proxmox_provider = proxmox.deploy(cfg, secrets, hosts)
    linode.deploy(cfg, secrets, hosts)
    incus_containers = incus.deploy(cfg, secrets, hosts)
    onboard.deploy(cfg, secrets, hosts)
    ci_runner.deploy(cfg, secrets, hosts)  # the pipeline's runner, inside the lab
    cluster = k3s.deploy(cfg, secrets, hosts)
    lab_dns = dns.deploy(cfg, secrets, hosts)  # the zone names every host and published service
    lab_ca = ca.deploy(cfg, cluster)  # cert-manager issuing HTTPS certificates from the lab's root
    edge_brokers = edge.deploy(cfg, secrets, hosts, lab_ca)  # hosts of group mqtt: Mosquitto with TLS
    # The federated environment (StackReference), read once: Grafana's datasources log in to it.
    upstream = monitoring.read_upstream(cfg) if monitoring.enabled(cfg) else None
    metrics = mtig.deploy(cfg, secrets, cluster, upstream=upstream)  # with the monitoring layer's datasources
    mon = monitoring.deploy(cfg, secrets, cluster, metrics, hosts, upstream=upstream)
    backups.deploy(cfg, secrets, hosts, proxmox_provider, cluster, metrics, incus_containers)
    outputs.export(cfg, hosts, cluster, metrics, mon, lab_dns, lab_ca, edge_brokers)
