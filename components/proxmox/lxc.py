"""An LXC container from a downloaded appliance template."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_proxmoxve as proxmoxve

from .hardware import NetworkArgs, sorted_tags

LXC_TYPE = "homelab:proxmox:Lxc"


@dataclass(frozen=True)
class LxcArgs:
    """One container. `ipv4` is `dhcp` or an address with prefix (`10.40.0.10/24`) with `gateway`."""

    hostname: str
    node_name: str
    vm_id: int
    template_file_id: pulumi.Input[str]  # `<datastore>:vztmpl/<file>`
    os_type: str
    datastore_id: str
    network: NetworkArgs
    ssh_authorized_keys: tuple[str, ...]
    ipv4: str = "dhcp"
    gateway: str | None = None
    dns_domain: str | None = None
    dns_servers: tuple[str, ...] = ()
    cores: int = 1
    memory_mb: int = 512
    swap_mb: int = 512
    disk_gb: int = 8
    unprivileged: bool = True
    nesting: bool | None = None  # None: on for unprivileged containers (systemd in Debian 12 needs it)
    on_boot: bool = True
    tags: tuple[str, ...] = ()
    protect: bool = False

    def __post_init__(self) -> None:
        if self.ipv4 != "dhcp" and ("/" not in self.ipv4 or not self.gateway):
            raise ValueError(f"{self.hostname}: a static ipv4 needs a prefix length and a gateway")
        if not self.ssh_authorized_keys:
            raise ValueError(f"{self.hostname}: at least one SSH public key is needed (no passwords)")


class Lxc(pulumi.ComponentResource):
    """Unprivileged unless told otherwise; root logs in with the given SSH keys only."""

    vm_id: pulumi.Output[int]
    name: str
    ipv4: pulumi.Output[str]

    def __init__(self, name: str, args: LxcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(LXC_TYPE, name, None, opts)
        ipv4_config = {"address": args.ipv4} if args.ipv4 == "dhcp" else {"address": args.ipv4, "gateway": args.gateway}
        interface: dict = {"name": "eth0", "bridge": args.network.bridge, "mtu": args.network.mtu}
        if args.network.vlan_id is not None:
            interface["vlan_id"] = args.network.vlan_id
        initialization: dict = {
            "hostname": args.hostname,
            "user_account": {"keys": list(args.ssh_authorized_keys)},
            "ip_configs": [{"ipv4": ipv4_config}],
        }
        if args.dns_domain or args.dns_servers:
            initialization["dns"] = {"domain": args.dns_domain, "servers": list(args.dns_servers)}
        nesting = args.unprivileged if args.nesting is None else args.nesting
        features = {"nesting": True} if nesting else None
        self.container = proxmoxve.ContainerLegacy(
            f"{name}-ct",
            node_name=args.node_name,
            vm_id=args.vm_id,
            description=f"{args.hostname} (LXC)",
            operating_system={"template_file_id": args.template_file_id, "type": args.os_type},
            unprivileged=args.unprivileged,
            features=features,
            initialization=initialization,
            network_interfaces=[interface],
            disk={"datastore_id": args.datastore_id, "size": args.disk_gb},
            memory={"dedicated": args.memory_mb, "swap": args.swap_mb},
            cpu={"cores": args.cores},
            start_on_boot=args.on_boot,
            started=True,
            tags=sorted_tags(args.tags),
            protection=args.protect,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # The VMID is fixed: a create-before-delete replacement would collide on it.
                delete_before_replace=True,
                # Keys given at creation only (initialization.user_account.keys is ForceNew in
                # proxmoxtf/resource/container/container.go): a rotated key would replace the container.
                # Later keys are the provisioning's business (README "Day 2").
                ignore_changes=["initialization.userAccount.keys"],
            ),
        )
        self.vm_id = self.container.vm_id
        self.name = args.hostname
        if args.ipv4 == "dhcp":
            self.ipv4 = self.container.ipv4.apply(lambda by_nic: (by_nic or {}).get("eth0", ""))
        else:
            self.ipv4 = pulumi.Output.from_input(args.ipv4.split("/", 1)[0])
        self.register_outputs({"vm_id": self.vm_id, "name": self.name, "ipv4": self.ipv4})
