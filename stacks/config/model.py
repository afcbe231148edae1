"""The root of an environment's configuration and the registry of its sections."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pydantic import Field

from . import backups, ca, ci_runner, environment, incus, k3s, linode, monitoring, mtig, names, onboard, overlap, proxmox, pvemetrics
from .backups import Backups
from .base import DeclaredHost, Model, Problem, SecretSpec
from .ca import CertificateAuthority
from .ci_runner import CiRunner
from .environment import Environment
from .incus import Incus
from .k3s import K3s
from .linode import Linode
from .monitoring import Monitoring
from .mtig import Mtig
from .onboard import OnboardHost
from .proxmox import Proxmox
from .pvemetrics import ProxmoxMetrics


class EnvironmentConfig(Model):
    """Everything one stack deploys, validated once before any resource is declared."""

    environment: Environment
    proxmox: Proxmox | None = None
    linode: Linode | None = None
    onboard: tuple[OnboardHost, ...] = ()
    incus: Incus | None = None
    k3s: K3s | None = None
    mtig: Mtig | None = None
    monitoring: Monitoring | None = None
    ca: CertificateAuthority | None = None
    upstream: str | None = Field(default=None, description="stack reference such as organization/homelab/mirkwood")
    backups: Backups | None = None
    proxmox_metrics: ProxmoxMetrics | None = None
    ci_runner: CiRunner | None = None

    def declared_hosts(self) -> list[DeclaredHost]:
        """Every host any section declares (sections call this instead of importing this module)."""
        return declared_hosts(self)


# Every section module may define checks(cfg), secrets(cfg), hosts(cfg) and host_checks(cfg, hosts)
# (checks that need every section's hosts). Sections import only `base`, never this module: the
# package imports one way, base <- sections <- model <- loader.
SECTIONS = (environment, proxmox, linode, onboard, incus, k3s, mtig, monitoring, backups, pvemetrics, overlap, names, ca, ci_runner)


def declared_hosts(cfg: EnvironmentConfig) -> list[DeclaredHost]:
    """Every host any section declares, in section order."""
    return [host for section in SECTIONS if hasattr(section, "hosts") for host in section.hosts(cfg)]


def needed_secrets(cfg: EnvironmentConfig) -> list[SecretSpec]:
    """The secret config keys this environment needs, each once, sorted by key."""
    specs: dict[str, SecretSpec] = {}
    for section in SECTIONS:
        if hasattr(section, "secrets"):
            for spec in section.secrets(cfg):
                specs.setdefault(spec.key, spec)
    return [specs[key] for key in sorted(specs)]


def problems(cfg: EnvironmentConfig) -> list[Problem]:
    """Every cross-field problem of the whole config."""
    found = [problem for section in SECTIONS if hasattr(section, "checks") for problem in section.checks(cfg)]
    hosts = declared_hosts(cfg)
    found.extend(problem for section in SECTIONS if hasattr(section, "host_checks")
                 for problem in section.host_checks(cfg, hosts))
    found.extend(_duplicate_hostnames(hosts))
    return found


def _duplicate_hostnames(hosts: Iterable[DeclaredHost]) -> Iterable[Problem]:
    seen: dict[str, DeclaredHost] = {}
    for host in hosts:
        first = seen.setdefault(host.name, host)
        if first is not host:
            yield Problem(host.path, host.name, f"hostname is already used by {first.path} ({first.platform})")
    addresses: defaultdict[str, list[DeclaredHost]] = defaultdict(list)
    for host in seen.values():
        if host.address:
            addresses[host.address].append(host)
    for address, owners in addresses.items():
        for other in owners[1:]:
            yield Problem(other.address_path or other.path, address,
                          f"address is already used by {owners[0].address_path or owners[0].path}")
