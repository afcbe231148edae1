"""Hosts that exist already (bare metal, Raspberry Pi, machines built elsewhere).

```yaml
homelab:onboard:
  - name: pippin                   # hostname (RFC 1123 label), unique across every platform
    address: 10.50.0.61            # IPv4 address or DNS name the program reaches over SSH
    ssh_user: pi                   # default root; needs passwordless sudo when not root
    distribution: debian12         # catalog key: which provisioning script runs
    groups: [k3s_agent]            # inventory groups
    host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMUQ9Fd12DD7yLLDm38EzrrmSH7Sosg0r8vAAjSnIXXZ"   # pinned; unset: recorded on first contact
```
Secret: `sshPrivateKey` (the base provisioning script runs over SSH).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import field_validator

from components.catalog import CATALOG
from components.hostkey import host_key_problem

from .base import DeclaredHost, Model, SecretSpec, check_hostname

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

# A DNS name that can resolve: dot-separated RFC 1123 labels ending in an alphabetic TLD.
_DNS_NAME_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class OnboardHost(Model):
    """An existing host provisioned over SSH with the base provisioning script."""

    name: str
    address: str
    ssh_user: str = "root"
    distribution: str
    groups: tuple[str, ...] = ()
    # The host's SSH host key (`ssh-keyscan -t ed25519 ADDRESS`, checked against the console or
    # `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host). Unset: recorded on first contact
    # and enforced from then on.
    host_key: str | None = None

    _name = field_validator("name")(lambda cls, v: check_hostname(v))

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        problem = host_key_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.IPv4Address(value)
            return value
        except ValueError:
            pass
        if _DNS_NAME_RE.match(value) and not re.fullmatch(r"[\d.]+", value):
            return value
        raise ValueError("is not an IPv4 address or a DNS name, e.g. 10.50.0.31 or pi1.lothlorien.lan")

    @field_validator("ssh_user")
    @classmethod
    def _ssh_user(cls, value: str) -> str:
        if not _USER_RE.match(value):
            raise ValueError("is not a login name (lowercase, up to 32 characters)")
        return value

    @field_validator("distribution")
    @classmethod
    def _distribution(cls, value: str) -> str:
        if value not in CATALOG:
            raise ValueError(f"is not a distribution in the catalog; known: {', '.join(sorted(CATALOG))}")
        return value


def secrets(cfg: "EnvironmentConfig") -> Iterable[SecretSpec]:
    if cfg.onboard:
        yield SecretSpec("sshPrivateKey", "SSH private key of the operator, for provisioning over SSH")


def hosts(cfg: "EnvironmentConfig") -> Iterable[DeclaredHost]:
    for index, host in enumerate(cfg.onboard):
        yield DeclaredHost(name=host.name, platform="onboard", path=f"onboard[{index}].name",
                           address=host.address, distribution=host.distribution, groups=host.groups,
                           address_path=f"onboard[{index}].address")
