"""Wiring of the lab DNS: the environment's zone from the host registry (every host's FQDN) and
the published names (k3s API names, Grafana), served by BIND on every host of group `dns`."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi

from components.catalog import CATALOG
from components.dns import DnsServer, DnsServerArgs, Record, ZoneSpec
from components.dns.render import unique_records

from .config.model import EnvironmentConfig
from .config.names import DNS_GROUP, published_names, relative
from .hosts import Host, HostRegistry, connection
from .secrets import Secrets


@dataclass(frozen=True)
class LabDns:
    """What the outputs publish: the zone, its servers' addresses and the served names."""

    domain: str
    servers: pulumi.Output[list]
    zone: pulumi.Output[ZoneSpec]
    components: tuple[DnsServer, ...]


def front_addresses(cfg: EnvironmentConfig, hosts: HostRegistry) -> dict[str, pulumi.Input[str]]:
    """Each cluster's address from outside: its VIP, else its first server's address."""
    found: dict[str, pulumi.Input[str]] = {}
    for cluster in cfg.k3s.clusters if cfg.k3s is not None else ():
        if cluster.vip is not None:
            found[cluster.name] = cluster.vip
        elif cluster.servers and cluster.servers[0] in hosts:
            found[cluster.name] = hosts.get(cluster.servers[0]).address
    return found


def _ipv4(value: object) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(value).split("/")[0]))
    except ValueError:
        return None


def zone_records(cfg: EnvironmentConfig, hosts: list[Host], addresses: list, fronts: dict[str, str]) -> tuple[Record, ...]:
    """A record per host with an IPv4 address, then one per published name in the domain."""
    domain = cfg.environment.domain
    records = [Record(host.name, ip) for host, address in zip(hosts, addresses) if (ip := _ipv4(address))]
    for published in published_names(cfg):
        name, ip = relative(published.name, domain), _ipv4(fronts.get(published.cluster))
        if name is not None and ip is not None:
            records.append(Record(name, ip))
    return unique_records(records)


def zone_spec(cfg: EnvironmentConfig, hosts: list[Host], addresses: list, fronts: dict[str, str]) -> ZoneSpec:
    env = cfg.environment
    records = zone_records(cfg, hosts, addresses, fronts)
    named = {record.name for record in records}
    servers = tuple(h.name for h in hosts if DNS_GROUP in h.groups and h.name in named)
    return ZoneSpec(domain=env.domain, records=records, nameservers=servers,
                    forwarders=tuple(str(f) for f in env.dns_forwarders),
                    clients=tuple(sorted({str(n.cidr) for n in env.networks.values()})))


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry) -> LabDns | None:
    """One BIND server per host of group `dns`, all with the same zone."""
    servers = [host for host in hosts.all() if DNS_GROUP in host.groups]
    if not servers:
        return None
    listed = hosts.all()
    fronts = front_addresses(cfg, hosts)
    front_names = sorted(fronts)
    zone = pulumi.Output.all(
        pulumi.Output.all(*[h.address for h in listed]), pulumi.Output.all(*[fronts[n] for n in front_names])
    ).apply(lambda values: zone_spec(cfg, listed, values[0], dict(zip(front_names, values[1]))))
    private_key = secrets.require("sshPrivateKey")
    built = []
    for host in servers:
        family = CATALOG[host.distribution].family if host.distribution in CATALOG else "debian"
        built.append(DnsServer(f"{host.name}-dns", DnsServerArgs(
            connection=connection(host, private_key), ssh_user=host.ssh_user, family=family, zone=zone,
            ready=host.ready)))
    return LabDns(domain=cfg.environment.domain, servers=pulumi.Output.all(*[h.address for h in servers]),
                  zone=zone, components=tuple(built))
