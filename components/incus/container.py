"""An Incus instance (system container by default, OCI application container when asked) with its
root disk, static address, proxy devices and an optional data volume with scheduled snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Sequence

import pulumi
import yaml

from . import binding

TYPE = "homelab:incus:Container"

#: The seed's snapshot defaults: daily at 02:00, kept 7 days, named snap0, snap1, ...
DEFAULT_SCHEDULE = "0 2 * * *"
DEFAULT_EXPIRY = "7d"
DEFAULT_PATTERN = "snap%d"


def data_volume_name(hostname: str) -> str:
    """The Incus name of an instance's data volume (the backups layer exports it by this name)."""
    return f"{hostname}-data"


@dataclass(frozen=True)
class ProxySpec:
    """A proxy device: `listen` on the host, forwarded to `connect` in the instance."""

    name: str
    listen: str
    connect: str


@dataclass(frozen=True)
class VolumeSpec:
    """A per-instance custom volume mounted at `path`, snapshotted by Incus itself."""

    pool: str
    size: str
    path: str
    schedule: str = DEFAULT_SCHEDULE
    expiry: str = DEFAULT_EXPIRY
    pattern: str = DEFAULT_PATTERN
    target: Optional[str] = None  # cluster member holding a local pool's volume (None on shared storage)

    def config(self) -> dict[str, str]:
        return {"size": self.size, "snapshots.expiry": self.expiry, "snapshots.pattern": self.pattern,
                "snapshots.schedule": self.schedule}


@dataclass(frozen=True)
class ContainerArgs:
    hostname: str
    image: str  # e.g. images:debian/12/cloud, or <oci-remote>:<image>:<tag>
    profiles: Sequence[pulumi.Input[str]]  # base + exactly one network profile (+ extras), in order
    network: pulumi.Input[str]  # the Incus network of the network profile (for a static address)
    root_pool: str
    kind: Literal["system", "oci"] = "system"
    cpu: int = 1
    memory: str = "512MiB"
    root_size: str = "8GiB"
    address: Optional[str] = None
    user_data: Optional[str] = None  # cloud-init user-data (system containers only)
    # cloud-init network-config: the static address on a network without Incus DHCP (macvlan);
    # then `address` is not set on the NIC (ipv4.address exists on managed bridges only).
    network_config: Optional[str] = None
    proxies: tuple[ProxySpec, ...] = ()
    volume: Optional[VolumeSpec] = None
    target: Optional[str] = None  # cluster member
    description: Optional[str] = None
    project: Optional[str] = None
    environment: Optional[str] = None  # recorded as `user.environment` (Incus' free-form user keys)
    protect: bool = False  # production: instance and volume
    retain_data: bool = False  # production: the data volume survives a delete of the resource


def static_network_config(address: str, prefix: int, gateway: str, nameservers: Sequence[str],
                          search: Sequence[str] = ()) -> str:
    """cloud-init network-config (version 2) giving eth0 a fixed address, the default route and
    the resolvers: what an instance on a macvlan network needs (no Incus DHCP there)."""
    eth0: dict = {"addresses": [f"{address}/{prefix}"], "routes": [{"to": "default", "via": gateway}]}
    if nameservers:
        eth0["nameservers"] = {"addresses": list(nameservers), **({"search": list(search)} if search else {})}
    return yaml.safe_dump({"version": 2, "ethernets": {"eth0": eth0}}, sort_keys=True, default_flow_style=False)


def instance_config(args: ContainerArgs) -> dict[str, str]:
    """The instance's own config keys, sorted: limits, the environment tag and (system containers)
    cloud-init user-data."""
    config = {"limits.cpu": str(args.cpu), "limits.memory": args.memory}
    if args.environment:
        config["user.environment"] = args.environment
    if args.kind == "system" and args.user_data is not None:
        config["cloud-init.user-data"] = args.user_data
    if args.kind == "system" and args.network_config is not None:
        config["cloud-init.network-config"] = args.network_config
    return dict(sorted(config.items()))


def devices(args: ContainerArgs, volume_name: Optional[pulumi.Input[str]] = None) -> list[binding.DeviceArgs]:
    """Root disk, the static-address NIC override, the data disk and proxy devices, sorted by name."""
    found = [binding.DeviceArgs(name="root", type="disk",
                                properties={"path": "/", "pool": args.root_pool, "size": args.root_size})]
    if args.address is not None and args.network_config is None:
        # Same device name as the network profile's NIC: the instance's device replaces it whole.
        found.append(binding.DeviceArgs(name="eth0", type="nic", properties={
            "ipv4.address": args.address, "name": "eth0", "network": args.network}))
    if args.volume is not None and volume_name is not None:
        found.append(binding.DeviceArgs(name="data", type="disk", properties={
            "path": args.volume.path, "pool": args.volume.pool, "source": volume_name}))
    for proxy in args.proxies:
        found.append(binding.DeviceArgs(name=proxy.name, type="proxy",
                                        properties={"connect": proxy.connect, "listen": proxy.listen}))
    return sorted(found, key=lambda device: device.name)


class Container(pulumi.ComponentResource):
    """One Incus instance; pass its remote's provider in `opts.providers`."""

    instance: binding.Instance
    volume: Optional[binding.StorageVolume]
    ipv4_address: pulumi.Output[str]

    def __init__(self, name: str, args: ContainerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        if args.kind == "oci" and args.user_data is not None:
            raise ValueError(f"{name}: OCI application containers take no cloud-init user-data")
        # The provider applies Incus's `default` profile when profiles are left out: never let that happen.
        if len(args.profiles) < 2 or "default" in args.profiles:
            raise ValueError(f"{name}: an instance gets the base profile and exactly one network profile, "
                             "never `default`")
        self.volume = None
        if args.volume is not None:
            self.volume = binding.StorageVolume(f"{name}-data", binding.StorageVolumeArgs(
                name=data_volume_name(args.hostname), pool=args.volume.pool, type="custom", content_type="filesystem",
                description=f"homelab: data of {args.hostname}", config=args.volume.config(),
                target=args.volume.target, project=args.project),
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                            retain_on_delete=args.retain_data))
        self.instance = binding.Instance(f"{name}-instance", binding.InstanceArgs(
            name=args.hostname, image=args.image, type="container",
            description=args.description or f"homelab {args.kind} container {args.hostname}",
            profiles=list(args.profiles), config=instance_config(args),
            devices=devices(args, self.volume.name if self.volume else None),
            ephemeral=False, running=True, target=args.target, project=args.project),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect))
        self.ipv4_address = (pulumi.Output.from_input(args.address) if args.address is not None
                             else self.instance.ipv4_address)
        self.register_outputs({"name": self.instance.name, "ipv4_address": self.ipv4_address})
