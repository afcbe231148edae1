"""The stack contract: the versioned outputs downstream stacks and tools read.

Documented in stacks/CONTRACT.md. Bump CONTRACT_VERSION's major on any removal or rename, the
minor on additions. Readers: ``pulumi.StackReference`` (another environment's monitoring
federation, downstream stacks), ``stacks/ansible_inventory.py``, people with
``pulumi stack output --json``.
"""

from __future__ import annotations

from typing import Any, Optional

import pulumi

from . import backups
from .config.model import EnvironmentConfig
from .hosts import Cluster, HostRegistry

# 1.1 added `backups`; 2: the kubeconfig moved from `k3s.kubeconfig` to the top-level secret output
# `kubeconfig`: tools such as pulumi/actions mask only top-level secret outputs (src/main.ts:
# core.setSecret on outExport.secret) and hand every other output, nested secrets included, to the
# job in clear.
CONTRACT_VERSION = "2.2"

ENDPOINT_KEYS = ("alertmanager", "grafana", "influxdb", "loki", "loki_push", "mqtt", "mqtt_edge", "prometheus")


def host_entry(host, primary: Optional[str], private: Optional[str]) -> dict:
    """One inventory entry: name, addresses, platform, distribution, groups (and how to log in)."""
    return {
        "name": host.name,
        "fqdn": host.fqdn,
        "addresses": {k: v for k, v in (("primary", primary), ("private", private)) if v},
        "platform": host.platform,
        "distribution": host.distribution,
        "groups": sorted(host.groups),
        "ssh_user": host.ssh_user,
        **({"connection": {"type": "incus", "remote": host.incus_remote}} if host.incus_remote else {}),
    }


def inventory(hosts) -> pulumi.Output[list]:
    """Every host's entry, in registry order. One Output over all addresses, not one per host:
    the engine's work per Output adds up in an environment of hundreds of hosts."""
    listed = hosts.all()
    addresses = [a for h in listed for a in (h.address, h.private_address)]
    return pulumi.Output.all(*addresses).apply(
        lambda resolved: [host_entry(h, resolved[2 * i], resolved[2 * i + 1]) for i, h in enumerate(listed)])


def k3s(cluster) -> Optional[dict]:
    if cluster is None:
        return None
    return {
        "name": cluster.name,
        "api_endpoint": cluster.api_endpoint,
        "version": cluster.version,
    }


def kubeconfig(cluster) -> Optional[pulumi.Output]:
    """Cluster admin, as a top-level secret output of its own (never nested inside a map)."""
    return None if cluster is None else pulumi.Output.secret(cluster.kubeconfig)


def _mqtt(metrics) -> Any:
    """The broker's URL from outside the cluster when it is exposed, else the in-cluster one."""
    external = getattr(metrics, "mqtt_external_url", None)
    if external is not None:
        return pulumi.Output.from_input(external).apply(
            lambda addr: addr if not addr or "://" in addr else f"mqtt://{addr}"
        )
    return metrics.mqtt_url


def endpoints(metrics, mon, edge_brokers: list[str] | None = None) -> dict:
    """Every service endpoint; ``None`` for a layer the environment does not run."""
    out: dict[str, Any] = {key: None for key in ENDPOINT_KEYS}
    if edge_brokers:
        out["mqtt_edge"] = list(edge_brokers)
    if metrics is not None:
        out.update(mqtt=_mqtt(metrics), grafana=metrics.grafana_url, influxdb=metrics.influxdb_url)
    if mon is not None:
        out.update(
            prometheus=mon.prometheus_url,
            alertmanager=mon.alertmanager_url,
            loki=mon.loki_url,
            loki_push=mon.loki_push_url,
        )
    return out


def monitoring_credentials(mon) -> Optional[pulumi.Output]:
    """The logins of the published Prometheus and Loki (2.2), one top-level secret output (pulumi/
    actions masks only whole secret outputs); None when they stay inside the cluster."""
    credentials = getattr(mon, "credentials", None)
    if not credentials:
        return None
    return pulumi.Output.secret({kind: {"username": mon.username, "password": password}
                                 for kind, password in sorted(credentials.items())})


def dns(lab_dns) -> Optional[pulumi.Output[dict]]:
    """The lab DNS: its servers (resolvers for the hosts) and every record of its zone by FQDN."""
    if lab_dns is None:
        return None
    return pulumi.Output.all(lab_dns.servers, lab_dns.zone).apply(lambda values: {
        "domain": lab_dns.domain,
        "servers": list(values[0]),
        "records": {(lab_dns.domain if r.name == "@" else f"{r.name}.{lab_dns.domain}"): r.address
                    for r in values[1].records},
    })


def ca(lab_ca) -> Optional[dict]:
    """The lab CA's root (public: hosts and browsers trust it) and the issuer that uses it."""
    if lab_ca is None:
        return None
    return {"root_pem": lab_ca.root_pem, "issuer": lab_ca.issuer_name}


def export(cfg: EnvironmentConfig, hosts: HostRegistry, cluster: Cluster | None, metrics: Any, mon: Any,
           lab_dns: Any = None, lab_ca: Any = None, edge_brokers: list[str] | None = None) -> None:
    env = cfg.environment
    pulumi.export("contract_version", CONTRACT_VERSION)
    pulumi.export(
        "environment",
        {"name": env.name, "domain": env.domain, "production": env.production, "upstream": cfg.upstream},
    )
    pulumi.export("inventory", inventory(hosts))
    pulumi.export("k3s", k3s(cluster))
    pulumi.export("kubeconfig", kubeconfig(cluster))
    pulumi.export("endpoints", endpoints(metrics, mon, edge_brokers))
    pulumi.export("monitoring_credentials", monitoring_credentials(mon))
    pulumi.export("dns", dns(lab_dns))
    pulumi.export("ca", ca(lab_ca))
    # What is backed up where (1.1): kinds, targets, schedules, retention; never a credential.
    pulumi.export("backups", backups.contract(cfg))
    if metrics is not None:
        # The metrics stack's own details (namespace, InfluxDB org and bucket); no credentials.
        pulumi.export("metrics", metrics.outputs())
