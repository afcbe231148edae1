"""The base provisioning spec of a host, from the environment's config (shared by every platform)."""

from __future__ import annotations

import ipaddress

from cloudinit.render import HostsEntry, ProvisionSpec, roles_for_groups
from components.catalog import CATALOG

from .config.model import EnvironmentConfig, declared_hosts

# Platforms whose hosts run a QEMU guest agent; hosts managed over SSH later get python3.
GUEST_AGENT_PLATFORMS = frozenset({"proxmox-vm"})
PYTHON3_PLATFORMS = frozenset({"linode", "onboard"})


def hosts_entries(cfg: EnvironmentConfig, exclude: str) -> tuple[HostsEntry, ...]:
    """/etc/hosts lines for the environment's other hosts with a fixed IPv4 address, sorted by name."""
    entries = []
    for host in sorted(declared_hosts(cfg), key=lambda h: h.name):
        if host.name == exclude or not host.address:
            continue
        try:
            address = ipaddress.IPv4Address(host.address.split("/")[0])
        except ValueError:
            continue  # a DNS name resolves by itself
        entries.append(HostsEntry(str(address), (cfg.environment.fqdn(host.name), host.name)))
    return tuple(entries)


def host_roles(cfg: EnvironmentConfig, name: str, groups: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The role extras of a host: from its groups, and `k3s` for every server or agent of a
    cluster, whatever its groups say (the install on a host without the k3s prerequisites fails)."""
    members = {host for cluster in (cfg.k3s.clusters if cfg.k3s else ())
               for host in (*cluster.servers, *cluster.agents)}
    return tuple(sorted({*roles_for_groups(groups), *(("k3s",) if name in members else ())}))


def provision_spec(cfg: EnvironmentConfig, name: str, distribution: str, platform: str,
                   groups: tuple[str, ...] = (), with_hosts_entries: bool = True) -> ProvisionSpec:
    """The ProvisionSpec of one host: operator, names, timezone, packages for its platform and roles."""
    env = cfg.environment
    return ProvisionSpec(
        distribution=CATALOG[distribution],
        user=env.operator.name,
        ssh_authorized_keys=tuple(env.operator.ssh_authorized_keys),
        timezone=env.timezone,
        hostname=name,
        fqdn=env.fqdn(name),
        guest_agent=platform in GUEST_AGENT_PLATFORMS,
        python3=platform in PYTHON3_PLATFORMS,
        shell=env.operator.shell,
        hosts_entries=hosts_entries(cfg, exclude=name) if with_hosts_entries else (),
        roles=host_roles(cfg, name, groups),
        extra_packages=env.packages_for(groups, CATALOG[distribution].family),
    )
