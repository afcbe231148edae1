"""Incus remotes, networks, profiles, instances and their data volumes.

```yaml
homelab:incus:
  remotes:
    iapetus:
      address: https://10.50.0.40:8443     # or unix:// for the local socket
      trust: token                         # secret incusToken-iapetus; or certificate (config_dir)
      accept_certificate: true             # trust the server's certificate on first contact
      storage_pool: local
      project: default                     # optional Incus project
    cluster01:
      address: https://10.50.0.41:8443
      trust: certificate
      config_dir: $HOME/.config/incus      # client.crt / client.key trusted by the cluster
      members: [cluster01-n1, cluster01-n2, cluster01-n3]
      storage_pool: ceph
      shared_storage: true                 # volumes follow their instance to any member
  networks:                                # one network and one profile each (default: the seed's three)
    production: {cidr: 10.10.0.0/24}       # type bridge (default): a private NAT bridge
    gitops: {cidr: 10.30.0.0/24, nat: true}
    lan:                                   # on the LAN: an environment network, its VLAN by default
      type: macvlan
      cidr: 10.50.0.0/24
      parent: eno1                         # the hosts' uplink
      parents: {cluster01-n3: bond0}       # where a remote or member differs
      vlan: 50
  profiles:                                # extra profiles: Incus config keys
    big: {limits.cpu: "4"}
  oci_registries:
    ghcr: {address: https://ghcr.io}
  instances:
    mosquitto:                             # the key is the hostname
      remote: cluster01
      target: cluster01-n2                 # a member; default: Incus places it
      network: production                  # exactly one network per instance (macvlan: LAN address)
      address: 10.10.0.10                  # inside the network, not .0, .1 or broadcast
      distribution: debian12               # system containers: a catalog distribution
      cpu: 1
      memory: 512MiB
      root_size: 8GiB
      profiles: [big]
      proxies:                             # never where Incus listens (dnsmasq 53/67, the API port)
        mqtt: {listen: "tcp:10.50.0.41:1883", connect: "tcp:127.0.0.1:1883"}
      data:
        size: 5GiB
        path: /var/lib/mosquitto
        pool: ceph                         # default: the remote's storage_pool
        snapshots: {schedule: "0 2 * * *", expiry: 7d, pattern: snap%d}
      groups: [mqtt]
    atlantis:
      remote: iapetus
      network: gitops
      kind: oci                            # an application container from an OCI registry
      image: ghcr:runatlantis/atlantis:v0.35.0
```
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from itertools import combinations
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from components.catalog import CATALOG

from .base import DeclaredHost, Model, Problem, SecretSpec, check_hostname, strict_cidr

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
# Incus proxy device endpoints: <tcp|udp>:<address>:<port or range>, or unix:<path>.
_ENDPOINT = re.compile(r"^(?:(tcp|udp):(\[[0-9a-fA-F:]+\]|[0-9a-zA-Z.-]+):(\d{1,5})(?:-(\d{1,5}))?|unix:@?/\S+)$")
# Incus snapshot expiry: one or more <number><unit>, units M(inute) H(our) d w m(onth) y.
_EXPIRY = re.compile(r"^\d+[MHdwmy](?: \d+[MHdwmy])*$")
_ALIASES = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@annually", "@yearly")
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
                ("day of week", 0, 7))
_SIZE = re.compile(r"^\d+(?:\.\d+)?(?:[KMGTPE]i?B|B)$")

#: The seed's networks (Profile Composition): one profile each, instances attach to exactly one.
DEFAULT_NETWORKS = {"production": "10.10.0.0/24", "management": "10.20.0.0/24", "gitops": "10.30.0.0/24"}


_NAMES = {3: ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
          4: ("sun", "mon", "tue", "wed", "thu", "fri", "sat")}


def _cron_number(text: str, index: int) -> int | None:
    if text.isdigit():
        return int(text)
    names = _NAMES.get(index, ())
    return names.index(text) + (1 if index == 3 else 0) if text in names else None


def cron_problem(value: str) -> str | None:
    """Why `value` is not a valid Incus snapshot schedule (None when it is): a cron expression or an
    alias, several joined by ", " (Incus lowercases it and parses each with a standard cron parser)."""
    for trigger in value.lower().split(", "):
        trigger = trigger.strip()
        if trigger.startswith("@"):
            if trigger not in _ALIASES:
                return f"unknown schedule alias {trigger!r} (one of {', '.join(_ALIASES)})"
            continue
        fields = trigger.split()
        if len(fields) != 5:
            return "is not a cron expression (minute hour day-of-month month day-of-week) or alias such as @daily"
        for index, (text, (label, low, high)) in enumerate(zip(fields, _CRON_FIELDS)):
            for part in text.split(","):
                base, _, step = part.partition("/")
                if step and not (step.isdigit() and int(step) > 0):
                    return f"cron {label} field {text!r} has an invalid step"
                if base == "*" or (base == "?" and index in (2, 4)):
                    continue
                first, _, last = base.partition("-")
                for number in (first, last) if last else (first,):
                    parsed = _cron_number(number, index)
                    if parsed is None or not low <= parsed <= high:
                        return f"cron {label} field {text!r} is not within {low}-{high}"
    return None


def endpoint_problem(value: str) -> str | None:
    match = _ENDPOINT.match(value)
    if not match:
        return "is not a proxy endpoint such as tcp:0.0.0.0:1883, udp:127.0.0.1:53 or unix:/run/x.sock"
    ports = [int(p) for p in match.group(3, 4) if p]
    if any(not 0 < port < 65536 for port in ports):
        return "has a port outside 1-65535"
    if len(ports) == 2 and ports[0] > ports[1]:
        return "has a port range that runs backwards"
    return None


class Remote(Model):
    """An Incus server or cluster the program manages, reached over HTTPS."""

    address: str = Field(description="https://host:8443, or unix:// for the local socket")
    # token: a one-time trust token in the secret key incusToken-<remote> (the provider creates and
    # trusts a client certificate with it); certificate: client.crt/client.key in config_dir are trusted.
    trust: Literal["token", "certificate"] = "certificate"
    config_dir: str | None = None
    # Off unless the config says so: the provider then needs the server's certificate in
    # <config_dir>/servercerts/<remote>.crt (`incus remote add` shows its fingerprint to check) or a
    # certificate from a CA the client trusts. On, it accepts whatever certificate answers whenever
    # that file is missing, i.e. on every fresh CI runner (lxc/terraform-provider-incus v1.1.1
    # internal/provider-config/config.go: fetchIncusServerCertificate).
    accept_certificate: bool = False
    members: tuple[str, ...] = ()  # cluster members; empty for a standalone host
    storage_pool: str = "default"
    shared_storage: bool = False  # the pool is cluster-wide (e.g. Ceph): volumes are not pinned to a member
    project: str | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not re.match(r"^(https://[A-Za-z0-9.-]+(?::\d{1,5})?|unix://\S*)$", value):
            raise ValueError("is not an Incus remote address such as https://10.0.0.5:8443 or unix://")
        return value

    @field_validator("members")
    @classmethod
    def _members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for member in value:
            check_hostname(member)
        if len(set(value)) != len(value):
            raise ValueError("lists a cluster member twice")
        return value


def token_secret_key(remote: str) -> str:
    """The secret config key holding a remote's trust token."""
    return f"incusToken-{remote}"


class IncusNetwork(Model):
    """An Incus network; its profile attaches an instance's eth0 to it.

    - `bridge` (default): a managed bridge with its own address range, NAT to the outside: for
      what should stay private (reached only from the Incus host).
    - `macvlan`: instances sit on the LAN itself, on the host's uplink (`parent`) with a VLAN tag,
      each with an address of that LAN (`cidr` is an environment network; the address is set by
      cloud-init's network-config). Incus's macvlan network type (lxc/incus
      doc/reference/network_macvlan.md: keys `parent`, `vlan`, `mtu`); `parent` is member-specific
      in a cluster (doc/howto/cluster_config_networks.md). The Incus host itself cannot reach a
      macvlan instance directly; the LAN can.
    """

    cidr: ipaddress.IPv4Network
    nat: bool = True
    type: Literal["bridge", "macvlan"] = "bridge"
    parent: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,15}$")  # macvlan: the uplink
    parents: dict[str, str] = {}  # macvlan: uplink per remote or cluster member, where it differs
    vlan: int | None = Field(default=None, ge=1, le=4094)  # macvlan: default the environment network's

    @model_validator(mode="after")
    def _macvlan(self) -> "IncusNetwork":
        if self.type == "macvlan" and not (self.parent or self.parents):
            raise ValueError("a macvlan network needs parent (the host's uplink interface, e.g. eno1)")
        if self.type == "bridge" and (self.parent or self.parents or self.vlan is not None):
            raise ValueError("parent, parents and vlan are for macvlan networks; a bridge has its own range")
        return self

    def uplink(self, remote: str, member: str | None = None) -> str | None:
        """The parent interface on a remote (or one of its cluster members)."""
        return self.parents.get(member or "", self.parents.get(remote, self.parent))

    _cidr = field_validator("cidr", mode="before")(lambda cls, v: strict_cidr(v))


class Snapshots(Model):
    """Incus's own snapshot schedule for a data volume (seed: daily at 02:00, 7 days, snap%d)."""

    schedule: str = "0 2 * * *"
    expiry: str = "7d"
    pattern: str = "snap%d"

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        problem = cron_problem(value.strip())
        if problem:
            raise ValueError(problem)
        return value.strip()

    @field_validator("expiry")
    @classmethod
    def _expiry(cls, value: str) -> str:
        if not _EXPIRY.match(value):
            raise ValueError("is not a duration such as 7d, 2w, 12H or 1m 2w (units M H d w m y)")
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if "%d" not in value or not re.fullmatch(r"[A-Za-z0-9%_.-]+", value):
            raise ValueError("must contain %d and only letters, digits, '-', '_', '.', e.g. snap%d")
        return value


class DataVolume(Model):
    """Persistent data of one instance, mounted at `path`."""

    size: str = "10GiB"
    path: str = "/srv/data"
    pool: str | None = None  # default: the remote's storage_pool
    snapshots: Snapshots = Snapshots()

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        if not _SIZE.match(value):
            raise ValueError("is not a size such as 10GiB or 512MiB")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or value == "/":
            raise ValueError("must be an absolute mount path other than /")
        return value


class Proxy(Model):
    """A proxy device: the host listens, the instance is connected (bridge mode TCP/UDP services)."""

    listen: str
    connect: str

    @field_validator("listen", "connect")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        problem = endpoint_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class Instance(Model):
    """One Incus instance: a system container (cloud image + cloud-init) unless kind is oci."""

    remote: str
    target: str | None = None  # cluster member; default: Incus places it
    network: str
    address: ipaddress.IPv4Address | None = None
    kind: Literal["system", "oci"] = "system"
    distribution: str = "debian12"  # catalog key (system containers)
    image: str | None = None  # OCI image as <oci-remote>:<name>:<tag> (oci), or an explicit image
    cpu: int = Field(default=1, ge=1, le=64)
    memory: str = "512MiB"
    root_size: str = "8GiB"
    profiles: tuple[str, ...] = ()  # extra profiles from incus.profiles, after base + network
    proxies: dict[str, Proxy] = {}
    data: DataVolume | None = None
    groups: tuple[str, ...] = ()

    @field_validator("memory", "root_size")
    @classmethod
    def _size(cls, value: str) -> str:
        if not _SIZE.match(value):
            raise ValueError("is not a size such as 10GiB or 512MiB")
        return value

    @model_validator(mode="after")
    def _kind(self) -> "Instance":
        if self.kind == "oci" and not self.image:
            raise ValueError("an OCI application container needs image, e.g. ghcr:org/app:1.0")
        return self


class OciRegistry(Model):
    """An OCI registry Incus pulls application container images from (e.g. ghcr.io)."""

    address: str

    @field_validator("address")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must be an https:// registry address")
        return value


class Incus(Model):
    """Incus remotes, the networks and profiles on each, and the instances they run."""

    remotes: dict[str, Remote] = Field(min_length=1)
    networks: dict[str, IncusNetwork] = Field(
        default_factory=lambda: {k: IncusNetwork(cidr=v) for k, v in DEFAULT_NETWORKS.items()})
    profiles: dict[str, dict[str, str]] = {}  # extra profiles: name -> Incus config keys
    oci_registries: dict[str, OciRegistry] = {}
    instances: dict[str, Instance] = {}

    @field_validator("remotes", "networks", "profiles", "oci_registries")
    @classmethod
    def _names(cls, value: dict) -> dict:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"name {name!r} is not lowercase letters, digits and '-', starting with a letter")
        return value

    @field_validator("instances")
    @classmethod
    def _hostnames(cls, value: dict) -> dict:
        for name in value:
            check_hostname(name)
        return value


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    incus = cfg.incus
    if incus is None:
        return
    for name in sorted(incus.profiles):
        if name in ("default", "base") or name in incus.networks:
            yield Problem(f"incus.profiles.{name}", name, "is reserved (default, base and the network profiles)")
    for (a_name, a), (b_name, b) in combinations(sorted(incus.networks.items()), 2):
        if a.cidr.overlaps(b.cidr):
            yield Problem(f"incus.networks.{b_name}.cidr", str(b.cidr), f"overlaps incus.networks.{a_name}.cidr {a.cidr}")
    for name, network in sorted(incus.networks.items()):
        if network.type == "macvlan":
            yield from _macvlan(cfg, name, network)
            continue
        for env_name, env_net in sorted(cfg.environment.networks.items()):
            if network.cidr.overlaps(env_net.cidr):
                yield Problem(f"incus.networks.{name}.cidr", str(network.cidr),
                              f"overlaps environment.networks.{env_name}.cidr {env_net.cidr}")
    for host, inst in sorted(incus.instances.items()):
        path = f"incus.instances.{host}"
        remote = incus.remotes.get(inst.remote)
        if remote is None:
            yield Problem(f"{path}.remote", inst.remote,
                          f"unknown remote; known remotes: {', '.join(sorted(incus.remotes))}")
        elif inst.target is not None and inst.target not in remote.members:
            where = (f"members of {inst.remote}: {', '.join(remote.members)}" if remote.members
                     else f"{inst.remote} is not a cluster")
            yield Problem(f"{path}.target", inst.target, f"is not a cluster member ({where})")
        network = incus.networks.get(inst.network)
        if network is None:
            yield Problem(f"{path}.network", inst.network,
                          f"unknown network; known networks: {', '.join(sorted(incus.networks))}")
        elif network.type == "macvlan" and inst.kind == "oci":
            yield Problem(f"{path}.network", inst.network,
                          "is a macvlan network: an OCI container cannot get its address there (no cloud-init)")
        elif network.type == "macvlan" and inst.address is None:
            yield Problem(f"{path}.address", None, f"an instance on the macvlan network {inst.network} needs a "
                                                   f"fixed address of {network.cidr} (set by cloud-init)")
        elif inst.address is not None:
            env_net = lan(cfg, network)
            first = next(iter(network.cidr.hosts()), network.cidr.network_address)
            gateway = env_net.gateway if env_net is not None else first
            reserved = (network.cidr.network_address, network.cidr.broadcast_address, gateway)
            if inst.address not in network.cidr:
                yield Problem(f"{path}.address", str(inst.address), f"is outside its network {inst.network} {network.cidr}")
            elif inst.address in reserved:
                yield Problem(f"{path}.address", str(inst.address),
                              f"is the network, broadcast or bridge address of {inst.network} {network.cidr}")
        for index, profile in enumerate(inst.profiles):
            if profile == "default":
                yield Problem(f"{path}.profiles[{index}]", profile,
                              "instances never use the default profile; they get base + their network profile")
            elif profile in incus.networks:
                yield Problem(f"{path}.profiles[{index}]", profile,
                              "is a network profile; choose the instance's one network with `network`")
            elif profile not in incus.profiles:
                known = ", ".join(sorted(incus.profiles)) or "none defined"
                yield Problem(f"{path}.profiles[{index}]", profile, f"unknown profile; known profiles: {known}")
        if inst.kind == "system":
            distro = CATALOG.get(inst.distribution)
            if distro is None:
                yield Problem(f"{path}.distribution", inst.distribution,
                              f"unknown distribution; known: {', '.join(sorted(CATALOG))}")
            elif distro.incus_image is None and inst.image is None:
                yield Problem(f"{path}.distribution", inst.distribution, "has no Incus image in the catalog")
        yield from _unconfigured_proxies(path, inst)
        if inst.kind == "oci" and inst.image and inst.image.split(":", 1)[0] not in incus.oci_registries:
            known = ", ".join(sorted(incus.oci_registries)) or "none defined"
            yield Problem(f"{path}.image", inst.image, f"names an unknown OCI registry; known oci_registries: {known}")


def _unconfigured_proxies(path: str, inst: Instance) -> Iterable[Problem]:
    """A proxy device publishes whatever listens on `connect` inside the instance. In a system
    container the program configures no service (the base provisioning: an operator account and
    sshd, reached on the instance's own address), so a proxy there would publish a service nobody
    configured: e.g. a Mosquitto installed by hand, which listens on localhost with anonymous access
    when it has no listener configured. Only an OCI application container's image is a service the
    program deploys (pinned by the config), so only there may a proxy forward to it."""
    if inst.kind == "oci":
        return
    for key, proxy in sorted(inst.proxies.items()):
        yield Problem(f"{path}.proxies.{key}", proxy.connect,
                      "forwards to a service the program does not configure (a system container gets the base "
                      "provisioning only); remove the proxy, or run the service as an OCI application container "
                      "(kind: oci)")


def lan(cfg: "EnvironmentConfig", network: IncusNetwork):
    """The environment network a macvlan network puts its instances on (None for a bridge)."""
    if network.type != "macvlan":
        return None
    return next((net for net in cfg.environment.networks.values() if net.cidr == network.cidr), None)


def _macvlan(cfg: "EnvironmentConfig", name: str, network: IncusNetwork) -> Iterable[Problem]:
    path = f"incus.networks.{name}"
    env_net = lan(cfg, network)
    if env_net is None:
        known = ", ".join(f"{n} {net.cidr}" for n, net in sorted(cfg.environment.networks.items()))
        yield Problem(f"{path}.cidr", str(network.cidr), f"a macvlan network is one of the environment's networks ({known})")
    elif network.vlan is not None and env_net.vlan is not None and network.vlan != env_net.vlan:
        yield Problem(f"{path}.vlan", network.vlan, f"differs from the VLAN {env_net.vlan} of its environment network")
    targets = set(cfg.incus.remotes) | {m for r in cfg.incus.remotes.values() for m in r.members}
    for key in sorted(network.parents):
        if key not in targets:
            yield Problem(f"{path}.parents.{key}", key, "is neither an Incus remote nor a cluster member")


def secrets(cfg: "EnvironmentConfig") -> Iterable[SecretSpec]:
    if cfg.incus is None:
        return
    for name, remote in sorted(cfg.incus.remotes.items()):
        if remote.trust == "token":
            yield SecretSpec(token_secret_key(name), f"one-time trust token from `incus config trust add` "
                             f"on the Incus remote {name}")


def hosts(cfg: "EnvironmentConfig") -> Iterable[DeclaredHost]:
    if cfg.incus is None:
        return
    for name, inst in sorted(cfg.incus.instances.items()):
        yield DeclaredHost(name=name, platform="incus", path=f"incus.instances.{name}",
                           address=str(inst.address) if inst.address else None,
                           distribution=inst.distribution if inst.kind == "system" else None,
                           groups=inst.groups, address_path=f"incus.instances.{name}.address")
