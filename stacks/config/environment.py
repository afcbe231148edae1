"""The environment itself: name, DNS domain, networks, operator account, production protection.

```yaml
homelab:environment:
  name: lothlorien                 # must equal the stack name (Pulumi.lothlorien.yaml)
  domain: lothlorien.lan           # hosts are <name>.<domain>
  production: true                 # protect=True on stateful resources; staging keeps off its nodes
  timezone: Europe/Amsterdam       # IANA zone name; default UTC
  default_network: production      # default: the first network by name
  networks:
    production:
      cidr: 10.50.0.0/24           # the network address itself, no host bits
      vlan: 50                     # optional, 1-4094, unique across networks
      gateway: 10.50.0.1           # default: the first host address
      dns_servers: [10.50.0.1]     # default: the gateway; hosts ask the lab DNS (group dns) first
  dns_forwarders: [10.50.0.1]      # where the lab DNS forwards other names; default: the gateway
  operator:                        # the account created on every host: sudo, SSH keys only
    name: lavender                 # default lavender; never root
    ssh_authorized_keys:           # public keys only (ssh-ed25519, ssh-rsa, ecdsa-...)
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@example
    shell: /bin/bash
  packages:                        # extra packages per inventory group, on every platform
    k3s_server: [jq]               # one list for every distribution
    nfs: {debian: [nfs-common], rhel: [nfs-utils]}   # or one per family when the names differ
```
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import TYPE_CHECKING

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .base import DeclaredHost, Model, Problem, check_hostname, strict_cidr

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
# A Debian or RPM package name (Debian policy 5.6.1: lowercase letters, digits, + - .).
_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+._-]{0,99}$")
_FAMILIES = ("debian", "rhel")  # cloudinit/render.py FAMILIES: how each family names its packages
_SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                  "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")


@functools.cache
def _timezones() -> frozenset[str]:
    """IANA zone names (a scan of the tz database, done once per process)."""
    from zoneinfo import available_timezones

    return frozenset(available_timezones())


class Network(Model):
    """An IPv4 network of the environment, optionally on a VLAN."""

    cidr: ipaddress.IPv4Network
    vlan: int | None = Field(default=None, ge=1, le=4094)
    gateway: ipaddress.IPv4Address | None = None
    dns_servers: tuple[ipaddress.IPv4Address, ...] = ()

    _cidr = field_validator("cidr", mode="before")(lambda cls, v: strict_cidr(v))

    @model_validator(mode="after")
    def _derive_gateway(self) -> "Network":
        if self.gateway is None:
            object.__setattr__(self, "gateway", next(self.cidr.hosts()))
        elif self.gateway not in self.cidr:
            raise ValueError(f"gateway {self.gateway} is outside the network {self.cidr}")
        if not self.dns_servers:
            object.__setattr__(self, "dns_servers", (self.gateway,))
        return self

    def contains(self, address: ipaddress.IPv4Address) -> bool:
        return address in self.cidr and address not in (self.cidr.network_address, self.cidr.broadcast_address)


class Operator(Model):
    """The operator account created on every host: sudo, SSH keys only."""

    name: str = "lavender"
    ssh_authorized_keys: tuple[str, ...] = Field(min_length=1)
    shell: str = "/bin/bash"

    @field_validator("name")
    @classmethod
    def _valid_user(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", value) or value == "root":
            raise ValueError("is not a valid login name (lowercase, up to 32 characters, not root)")
        return value

    @field_validator("ssh_authorized_keys")
    @classmethod
    def _public_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for key in keys:
            if "PRIVATE KEY" in key:
                raise ValueError("holds a private key; only public keys belong here")
            if not key.startswith(_SSH_KEY_TYPES):
                raise ValueError(f"entry is not an SSH public key (expected one of {', '.join(_SSH_KEY_TYPES[:3])}, ...)")
        return keys


class Environment(Model):
    """Who and where the environment is."""

    name: str
    domain: str
    # Whether this is a production stack is decided by policy/stacks.yaml (shared with the policy
    # pack); left out, the loader fills it in from there, and a value that disagrees is an error.
    production: bool | None = None
    timezone: str = "UTC"
    networks: dict[str, Network] = Field(min_length=1)
    default_network: str | None = None
    operator: Operator
    # Where the lab DNS (hosts of group `dns`, components/dns) forwards names outside `domain`;
    # default: the default network's gateway. Hosts resolve through the lab DNS first, then
    # through their network's dns_servers (stacks/config/names.py: resolvers).
    dns_forwarders: tuple[ipaddress.IPv4Address, ...] = ()
    packages: dict[str, tuple[str, ...] | dict[str, tuple[str, ...]]] = Field(
        default_factory=dict,
        description="extra packages per inventory group, on every host of the group (cloud-init or provision.sh): "
                    "one list for every distribution, or one per family when the names differ",
        examples=[{"k3s_server": ["jq"], "nfs": {"debian": ["nfs-common"], "rhel": ["nfs-utils"]}}],
    )

    _check_name = field_validator("name")(lambda cls, v: check_hostname(v))

    @field_validator("domain")
    @classmethod
    def _valid_domain(cls, value: str) -> str:
        if not _DOMAIN_RE.match(value):
            raise ValueError("is not a valid DNS domain, e.g. mirkwood.lan")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        if value not in _timezones():
            raise ValueError("is not an IANA time zone name, e.g. Europe/Amsterdam or UTC")
        return value

    @field_validator("packages", mode="before")
    @classmethod
    def _package_names(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        problems = []
        for group, names in value.items():
            by_family = names if isinstance(names, dict) else {None: names}
            for family, listed in by_family.items():
                where = f"{group}.{family}" if family else str(group)
                if family is not None and family not in _FAMILIES:
                    problems.append(f"{where}: unknown distribution family (one of {', '.join(_FAMILIES)})")
                elif not isinstance(listed, (list, tuple)):
                    problems.append(f"{where}: must be a list of package names")
                else:
                    problems += [f"{where}: {name!r} is not a package name (lowercase letters, digits, + . - _)"
                                 for name in listed if not (isinstance(name, str) and _PACKAGE_RE.match(name))]
        if problems:
            raise ValueError(f"has entries apt or dnf would refuse: {'; '.join(problems)}")
        return value

    def packages_for(self, groups: Iterable[str], family: str) -> tuple[str, ...]:
        """The extra packages of a host in `groups` whose distribution is of `family`, sorted."""
        wanted: set[str] = set()
        for group in groups:
            names = self.packages.get(group, ())
            wanted |= set(names.get(family, ()) if isinstance(names, dict) else names)
        return tuple(sorted(wanted))

    @field_validator("default_network")
    @classmethod
    def _declared_network(cls, value: str | None, info: ValidationInfo) -> str | None:
        networks = info.data.get("networks")
        if value is not None and networks is not None and value not in networks:
            raise ValueError(f"is not one of the networks ({', '.join(sorted(networks))})")
        return value

    @model_validator(mode="after")
    def _default_network(self) -> "Environment":
        if self.default_network is None:
            object.__setattr__(self, "default_network", sorted(self.networks)[0])
        if not self.dns_forwarders and self.default_network in self.networks:
            object.__setattr__(self, "dns_forwarders", (self.networks[self.default_network].gateway,))
        return self

    @property
    def network(self) -> Network:
        """The environment's default network."""
        return self.networks[self.default_network]

    def fqdn(self, hostname: str) -> str:
        return f"{hostname}.{self.domain}"


def host_checks(cfg: "EnvironmentConfig", hosts: Sequence[DeclaredHost]) -> Iterable[Problem]:
    """Packages for a group no host is in would install nothing anywhere (a typo, most likely)."""
    groups = {group for host in hosts for group in host.groups}
    for group in sorted(set(cfg.environment.packages) - groups):
        yield Problem(f"environment.packages.{group}", group,
                      f"no host is in this group (groups in use: {', '.join(sorted(groups)) or 'none'})")


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    networks = cfg.environment.networks
    for (a_name, a), (b_name, b) in combinations(sorted(networks.items()), 2):
        if a.cidr.overlaps(b.cidr):
            yield Problem(f"environment.networks.{b_name}.cidr", str(b.cidr),
                          f"overlaps environment.networks.{a_name}.cidr {a.cidr}")
        if a.vlan is not None and a.vlan == b.vlan:
            yield Problem(f"environment.networks.{b_name}.vlan", b.vlan,
                          f"is already the VLAN of environment.networks.{a_name}")
