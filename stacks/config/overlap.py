"""Networks the program creates, checked against every address and network it is told about.

Incus creates each `incus.networks` entry as a managed bridge with its own subnet on the remote,
and k3s routes its `cluster_cidr`/`service_cidr` on every node. A created network that contains an
address the same hosts must reach (a Proxmox node, an Incus remote, an onboarded host, a monitoring
target, the k3s VIP) makes that address unreachable from them: packets for it go into the local
bridge or the pod network. Each problem names both sides.

(Created networks against the environment's networks, and against each other, are checked in the
incus and k3s sections.)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .base import Problem

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

Created = tuple[str, ipaddress.IPv4Network]
Known = tuple[str, ipaddress.IPv4Address]


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address of `10.0.0.5`, `10.0.0.5:8443` or `https://10.0.0.5:8443`; None for a DNS name."""
    host = re.sub(r"^[a-z]+://", "", str(text)).split("/", 1)[0]
    if host.count(":") == 1:  # host:port (IPv6 literals are not IPv4 anyway)
        host = host.split(":", 1)[0]
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        return None


def created_networks(cfg: "EnvironmentConfig") -> list[Created]:
    """(field path, network) of every network the program creates."""
    found: list[Created] = []
    if cfg.incus is not None:
        found += [(f"incus.networks.{name}.cidr", net.cidr) for name, net in sorted(cfg.incus.networks.items())]
    for index, cluster in enumerate(cfg.k3s.clusters if cfg.k3s else ()):
        found += [(f"k3s.clusters[{index}].cluster_cidr", cluster.cluster_cidr),
                  (f"k3s.clusters[{index}].service_cidr", cluster.service_cidr)]
    return found


def known_addresses(cfg: "EnvironmentConfig") -> list[Known]:
    """(field path, address) of every fixed IPv4 address outside the created networks' own guests."""
    candidates: list[tuple[str, str]] = []
    if cfg.proxmox is not None:
        candidates += [(f"proxmox.nodes[{i}].address", node.address) for i, node in enumerate(cfg.proxmox.nodes)]
    if cfg.incus is not None:
        candidates += [(f"incus.remotes.{name}.address", remote.address)
                       for name, remote in sorted(cfg.incus.remotes.items())]
    candidates += [(f"onboard[{i}].address", host.address) for i, host in enumerate(cfg.onboard)]
    mon = cfg.monitoring
    if mon is not None:
        for section in ("proxmox", "incus"):
            targets = getattr(mon, section)
            candidates += [(f"monitoring.{section}.targets[{i}]", t) for i, t in enumerate(targets.targets if targets else ())]
        candidates += [(f"monitoring.node_targets[{i}]", t) for i, t in enumerate(mon.node_targets)]
    for index, cluster in enumerate(cfg.k3s.clusters if cfg.k3s else ()):
        if cluster.vip:
            candidates.append((f"k3s.clusters[{index}].vip", cluster.vip))
    return [(path, address) for path, text in candidates if (address := _ipv4(text)) is not None]


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    created = created_networks(cfg)
    env_networks = [net.cidr for net in cfg.environment.networks.values()]
    # A created network over an environment network is reported by its own section already.
    apart = [(path, net) for path, net in created if not any(net.overlaps(env) for env in env_networks)]
    yield from _addresses_inside(apart, known_addresses(cfg))
    yield from _k3s_against_incus(created)


def _addresses_inside(created: list[Created], known: list[Known]) -> Iterator[Problem]:
    for path, network in created:
        for other, address in known:
            if address in network:
                yield Problem(path, str(network), f"contains {other} {address}, which would be unreachable "
                                                  "from the hosts this network is created on")


def _k3s_against_incus(created: list[Created]) -> Iterator[Problem]:
    incus = [(p, n) for p, n in created if p.startswith("incus.")]
    for path, network in created:
        if path.startswith("k3s."):
            for other, incus_net in incus:
                if network.overlaps(incus_net):
                    yield Problem(path, str(network), f"overlaps {other} {incus_net}")
