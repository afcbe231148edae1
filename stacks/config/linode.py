"""Linode instances and their firewalls.

```yaml
homelab:linode:
  ssh_sources: [203.0.113.0/24]    # who may SSH in; everything else inbound is dropped
  token_fingerprint: sha256:25e6ad60a2ae6c77   # of linodeToken: the loader checks it and names the value
  instances:
    - name: fleur                  # hostname and Linode label, 3-29 characters
      region: us-central           # a region id (us-central is Dallas, TX), not the city
      type: g6-standard-2          # a Linode type id
      distribution: debian12       # a catalog distribution with a Linode image
      provision: ssh               # cloud-init (Metadata service regions only) or ssh
      private_ip: true             # also a private address (inventory: addresses.private)
      groups: [web]                # inventory groups
      services:                    # inbound ports the firewall accepts besides SSH
        - {label: http, protocol: TCP, ports: "80"}
        - {label: dns, protocol: UDP, ports: "53", sources: [198.51.100.0/24]}
```
Secrets: `linodeToken` (Linodes and Firewalls read/write) and `sshPrivateKey` when there are instances.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import field_validator

from components.catalog import CATALOG
from components.linode.catalog import CLOUD_INIT_IMAGES, REGIONS, TYPES

from .base import DeclaredHost, Model, Problem, SecretSpec, check_hostname, strict_cidrs

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

_PORTS_RE = re.compile(r"^\d{1,5}(-\d{1,5})?(,\s*\d{1,5}(-\d{1,5})?)*$")
SSH_PORT = 22
_LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


def _one_of(value: str, known: Iterable[str], what: str) -> str:
    known = sorted(known)
    if value in known:
        return value
    hint = difflib.get_close_matches(value, known, n=1)
    suggestion = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(known)}"
    raise ValueError(f"is not a Linode {what} in the catalog; {suggestion}")


def _region_by_place(value: str) -> str | None:
    """The region id whose city (or city and country) the user wrote, e.g. "Newark" -> us-east."""
    wanted = re.sub(r"[^a-z]", "", value.lower())
    for region, info in sorted(REGIONS.items()):
        city = info.label.split(",")[0]
        if wanted and wanted in (re.sub(r"[^a-z]", "", city.lower()), re.sub(r"[^a-z]", "", info.label.lower())):
            return region
    return None


class ServiceRule(Model):
    """A service port the firewall accepts (everything else inbound is dropped)."""

    label: str
    protocol: Literal["TCP", "UDP", "ICMP"] = "TCP"
    ports: str | None = None
    sources: tuple[ipaddress.IPv4Network, ...] = (ipaddress.IPv4Network("0.0.0.0/0"),)

    _sources = field_validator("sources", mode="before")(lambda cls, v: strict_cidrs(v))

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL_RE.match(value):
            raise ValueError("is not a rule label (lowercase letters, digits and '-', up to 32 characters)")
        return value

    def opens_port(self, port: int) -> bool:
        """Whether the rule accepts `port` (a TCP/UDP rule without ports accepts every port)."""
        if self.protocol == "ICMP":
            return False
        if self.ports is None:
            return True
        for part in self.ports.split(","):
            first, _, last = part.strip().partition("-")
            if int(first) <= port <= int(last or first):
                return True
        return False

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: str | None) -> str | None:
        if value is None:
            return value
        numbers = [int(n) for n in re.findall(r"\d+", value)]
        if not _PORTS_RE.match(value) or not all(1 <= n <= 65535 for n in numbers):
            raise ValueError("is not a port list such as '443', '80,443' or '8000-8100' (ports 1-65535)")
        return value


class LinodeInstance(Model):
    """One Linode instance: where, how big, which distribution, how it is provisioned."""

    name: str
    region: str
    type: str
    distribution: str
    private_ip: bool = False
    # cloud-init: user-data through the Metadata service; ssh: provision.sh over SSH as root.
    provision: Literal["cloud-init", "ssh"] = "cloud-init"
    groups: tuple[str, ...] = ()
    services: tuple[ServiceRule, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        check_hostname(value)
        if not 3 <= len(value) <= 29:
            raise ValueError("is the instance's Linode label (3-64 characters) and names its firewall "
                             "'<name>-fw' (at most 32): use 3-29 characters")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        place = _region_by_place(value)
        if place is not None and value not in REGIONS:
            raise ValueError(f"is not a Linode region id; {REGIONS[place].label} is {place!r}")
        return _one_of(value, REGIONS, "region")

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return _one_of(value, TYPES, "type")

    @field_validator("distribution")
    @classmethod
    def _distribution(cls, value: str) -> str:
        known = sorted(key for key, d in CATALOG.items() if d.linode_image)
        if value not in known:
            raise ValueError(f"is not a distribution with a Linode image; known: {', '.join(known)}")
        return value

    @property
    def image(self) -> str:
        image = CATALOG[self.distribution].linode_image
        assert image is not None
        return image


class Linode(Model):
    """Linode instances and the SSH source ranges their firewalls accept."""

    ssh_sources: tuple[ipaddress.IPv4Network, ...]
    # sha256:<16 hex> of the secret linodeToken (stacks/config/credentials.py token_fingerprint): the
    # loader checks it against the secret and refuses a staging stack whose token is production's.
    token_fingerprint: str | None = None
    instances: tuple[LinodeInstance, ...] = ()

    @field_validator("token_fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"sha256:[0-9a-f]{16}", value):
            raise ValueError("is not a token fingerprint sha256:<16 hex digits> (the loader names the value to set)")
        return value

    _sources = field_validator("ssh_sources", mode="before")(lambda cls, v: strict_cidrs(v))

    @field_validator("ssh_sources")
    @classmethod
    def _ssh_sources(cls, value: tuple[ipaddress.IPv4Network, ...]) -> tuple[ipaddress.IPv4Network, ...]:
        if not value:
            raise ValueError("needs at least one source range allowed to SSH, e.g. 203.0.113.0/24")
        return value


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    if cfg.linode is None:
        return
    yield from _ssh_wider_than_sources(cfg.linode)
    for index, instance in enumerate(cfg.linode.instances):
        if instance.provision != "cloud-init":
            continue
        path = f"linode.instances[{index}].provision"
        if not REGIONS[instance.region].metadata:
            yield Problem(path, instance.provision,
                          f"region {instance.region} has no Metadata service for cloud-init; set provision: ssh")
        elif instance.image not in CLOUD_INIT_IMAGES:
            yield Problem(path, instance.provision,
                          f"image {instance.image} does not support cloud-init; set provision: ssh")


def _ssh_wider_than_sources(cfg: Linode) -> Iterable[Problem]:
    """A service rule that accepts TCP port 22 from a source outside `ssh_sources` would open SSH
    wider than the SSH rule itself: the firewall accepts a packet if any rule does."""
    allowed = cfg.ssh_sources
    for index, instance in enumerate(cfg.instances):
        for number, rule in enumerate(instance.services):
            if rule.protocol != "TCP" or not rule.opens_port(SSH_PORT):
                continue
            wider = [str(net) for net in rule.sources if not any(net.subnet_of(ok) for ok in allowed)]
            if wider:
                yield Problem(f"linode.instances[{index}].services[{number}]", rule.ports or "all ports",
                              f"opens SSH (TCP {SSH_PORT}) to {', '.join(wider)}, wider than linode.ssh_sources "
                              f"({', '.join(str(net) for net in allowed)}); leave port {SSH_PORT} out of the rule "
                              "or narrow its sources")


def secrets(cfg: "EnvironmentConfig") -> Iterable[SecretSpec]:
    if cfg.linode is not None and cfg.linode.instances:
        yield SecretSpec("linodeToken", "Linode API token (Linodes, Firewalls: read/write)")
        yield SecretSpec("sshPrivateKey", "SSH private key of the operator, for provisioning over SSH")


def hosts(cfg: "EnvironmentConfig") -> Iterable[DeclaredHost]:
    if cfg.linode is None:
        return
    for index, instance in enumerate(cfg.linode.instances):
        yield DeclaredHost(name=instance.name, platform="linode", path=f"linode.instances[{index}].name",
                           distribution=instance.distribution, groups=instance.groups)
