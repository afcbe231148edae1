"""One Incus remote's shared building blocks: managed networks, the base profile, one profile per
network and any extra profiles. Instances compose base + exactly one network profile, never `default`."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi

from . import binding

TYPE = "homelab:incus:Site"

#: The seed's base profile: autostart, unprivileged and without nesting, modest default limits.
BASE_PROFILE_CONFIG: Mapping[str, str] = {
    "boot.autostart": "true",
    "limits.cpu": "1",
    "limits.memory": "512MiB",
    "security.nesting": "false",
    "security.privileged": "false",
}


@dataclass(frozen=True)
class NetworkSpec:
    """An Incus network: a managed NAT bridge with its own range, or a macvlan network on the
    host's uplink (`parent`, member-specific in a cluster) with a VLAN tag, on the LAN's range."""

    key: str
    cidr: str
    nat: bool = True
    type: str = "bridge"  # bridge | macvlan
    parent: Optional[str] = None
    vlan: Optional[int] = None
    member_parents: Mapping[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        """The bridge's own address: the first host of the network."""
        return str(next(ipaddress.IPv4Network(self.cidr).hosts()))

    def config(self) -> dict[str, str]:
        """The network's config on a standalone remote."""
        if self.type == "macvlan":
            return {**self.cluster_config(), "parent": self.parent or ""}
        prefix = ipaddress.IPv4Network(self.cidr).prefixlen
        return {"ipv4.address": f"{self.gateway}/{prefix}", "ipv4.nat": "true" if self.nat else "false",
                "ipv6.address": "none"}

    def cluster_config(self) -> dict[str, str]:
        """The cluster-wide config: without member-specific keys (`parent`)."""
        if self.type == "macvlan":
            return {"vlan": str(self.vlan)} if self.vlan is not None else {}
        return self.config()

    def member_config(self, member: str) -> Optional[dict[str, str]]:
        """The member-specific keys of one cluster member's pending definition."""
        if self.type == "macvlan":
            return {"parent": self.member_parents.get(member, self.parent or "")}
        return None


@dataclass(frozen=True)
class SiteArgs:
    """What one remote gets: its networks, the base profile and extra profiles (name -> config)."""

    remote: str
    networks: tuple[NetworkSpec, ...]
    members: tuple[str, ...] = ()  # cluster members: networks are first defined on each of them
    prefix: str = "homelab"  # Incus object names: <prefix>-base, <prefix>-<network>, ...
    base_config: Mapping[str, str] = field(default_factory=lambda: dict(BASE_PROFILE_CONFIG))
    extra_profiles: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    project: Optional[str] = None


class Site(pulumi.ComponentResource):
    """Networks and profiles of one Incus remote; pass the remote's provider in `opts.providers`."""

    base_profile: pulumi.Output[str]
    network_profiles: dict[str, pulumi.Output[str]]
    network_names: dict[str, pulumi.Output[str]]
    extra_profiles: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: SiteArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.network_names = {}
        self.network_profiles = {}
        for spec in sorted(args.networks, key=lambda n: n.key):
            incus_name = f"{args.prefix}-{spec.key}"
            pending = [
                binding.Network(f"{name}-network-{spec.key}-{member}", binding.NetworkArgs(
                    name=incus_name, target=member, config=spec.member_config(member),
                    type=None if spec.type == "bridge" else spec.type,
                    project=args.project), opts=child)
                for member in args.members
            ]
            network = binding.Network(f"{name}-network-{spec.key}", binding.NetworkArgs(
                name=incus_name, description=f"homelab {spec.key} network {spec.cidr}", type=spec.type,
                config=spec.cluster_config() if args.members else spec.config(), project=args.project),
                # In a cluster the network must be pending on every member before it is created;
                # nothing in the data links the cluster-wide network to those definitions.
                opts=pulumi.ResourceOptions(parent=self, depends_on=pending or None))
            profile = binding.Profile(f"{name}-profile-{spec.key}", binding.ProfileArgs(
                name=incus_name, description=f"homelab: attach to the {spec.key} network ({spec.cidr})",
                devices=[binding.DeviceArgs(name="eth0", type="nic",
                                            properties={"name": "eth0", "network": network.name})],
                project=args.project), opts=child)
            self.network_names[spec.key] = network.name
            self.network_profiles[spec.key] = profile.name
        base = binding.Profile(f"{name}-profile-base", binding.ProfileArgs(
            name=f"{args.prefix}-base", description="homelab base: autostart, security settings, common limits",
            config=dict(sorted(args.base_config.items())), project=args.project), opts=child)
        self.base_profile = base.name
        self.extra_profiles = {}
        for key, config in sorted(args.extra_profiles.items()):
            extra = binding.Profile(f"{name}-profile-{key}", binding.ProfileArgs(
                name=f"{args.prefix}-{key}", description=f"homelab extra profile {key}",
                config=dict(sorted(config.items())), project=args.project), opts=child)
            self.extra_profiles[key] = extra.name
        self.register_outputs({
            "base_profile": self.base_profile,
            "network_profiles": self.network_profiles,
            "extra_profiles": self.extra_profiles,
        })

    def profiles_for(self, network: str, extra: tuple[str, ...] = ()) -> list[pulumi.Output[str]]:
        """The profile list of an instance: base, then exactly one network profile, then extras."""
        return [self.base_profile, self.network_profiles[network], *(self.extra_profiles[e] for e in extra)]
