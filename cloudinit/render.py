"""Pure renderers of the shared base provisioning (cloud-init user-data)."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from components.catalog import Distribution

BASE_PACKAGES = ("curl", "git", "htop", "vim")


@dataclass(frozen=True)
class ProvisionSpec:
    """What every host gets: the operator account, name, hosts entries and base packages."""

    distribution: Distribution
    user: str
    ssh_authorized_keys: tuple[str, ...]
    timezone: str = "UTC"
    hostname: str | None = None  # None: left to per-host meta-data
    fqdn: str | None = None
    guest_agent: bool = True
    extra_packages: tuple[str, ...] = field(default_factory=tuple)
    shell: str = "/bin/bash"


def user_data(spec: ProvisionSpec) -> str:
    """The #cloud-config document for a host, deterministic for the same spec."""
    distro = spec.distribution
    packages = set(BASE_PACKAGES) | set(spec.extra_packages)
    if spec.guest_agent:
        packages.add(distro.guest_agent_package)
    admin_group = "sudo" if distro.family == "debian" else "wheel"
    doc: dict = {
        "users": [{
            "name": spec.user,
            "groups": [admin_group],
            "shell": spec.shell,
            "sudo": "ALL=(ALL) NOPASSWD:ALL",
            "lock_passwd": True,
            "ssh_authorized_keys": list(spec.ssh_authorized_keys),
        }],
        "ssh_pwauth": False,
        "disable_root": True,
        "timezone": spec.timezone,
        "package_update": True,
        "packages": sorted(packages),
    }
    if spec.hostname:
        doc["hostname"] = spec.hostname
        doc["fqdn"] = spec.fqdn or spec.hostname
        doc["prefer_fqdn_over_hostname"] = False
        doc["manage_etc_hosts"] = True
    if spec.guest_agent:
        doc["runcmd"] = [["systemctl", "enable", "--now", distro.guest_agent_package]]
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)
