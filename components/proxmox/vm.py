"""A VM: a full clone of a template, provisioned by cloud-init."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_proxmoxve as proxmoxve

from .hardware import CLOUD_INIT_INTERFACE, NetworkArgs, boot_disk, sorted_tags, vm_hardware
from .metadata import instance_id, meta_data
from .snippet import Snippet, SnippetArgs

VM_TYPE = "homelab:proxmox:Vm"


@dataclass(frozen=True)
class VmArgs:
    """One VM. `ipv4` is `dhcp` or an address with prefix (`10.40.0.21/24`) with `gateway`."""

    hostname: str
    fqdn: str
    node_name: str
    vm_id: int
    template_vm_id: pulumi.Input[int]
    template_node_name: str
    datastore_id: str
    snippets_datastore_id: str
    user_data_file_id: str  # the shared base provisioning snippet on this node (Snippet.file_id)
    network: NetworkArgs
    ipv4: str = "dhcp"
    gateway: str | None = None
    dns_domain: str | None = None
    dns_servers: tuple[str, ...] = ()
    cores: int = 2
    memory_mb: int = 2048
    disk_gb: int = 20
    os_type: str = "l26"
    on_boot: bool = True
    tags: tuple[str, ...] = ()
    protect: bool = False
    shutdown_timeout: int = 300  # seconds a clean shutdown may take on destroy
    description: str | None = None  # shown in the Proxmox UI; defaults to the FQDN and its origin
    user_data_file: pulumi.Resource | None = None  # the snippet's file: created before the VM
    # Other nodes the VM can run on (shared disks: migration, HA). Snippets on per-node storage must
    # exist there too: Proxmox rebuilds the cloud-init drive from them when the VM starts there.
    other_nodes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.ipv4 != "dhcp" and ("/" not in self.ipv4 or not self.gateway):
            raise ValueError(f"{self.hostname}: a static ipv4 needs a prefix length and a gateway")


class Vm(pulumi.ComponentResource):
    """Full clone of a template: per-host data (name, address, DNS) in meta-data and the network
    config Proxmox writes; the shared user-data snippet holds nothing host-specific."""

    vm_id: pulumi.Output[int]
    name: str
    ipv4: pulumi.Output[str]

    def __init__(self, name: str, args: VmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(VM_TYPE, name, None, opts)
        meta = meta_data(instance_id=instance_id(args.hostname, args.vm_id, _network_settings(args)),
                         hostname=args.hostname, fqdn=args.fqdn)
        self.meta_data = Snippet(
            f"{name}-meta-data",
            SnippetArgs(
                node_name=args.node_name,
                datastore_id=args.snippets_datastore_id,
                file_name=f"{args.hostname}-meta-data.yaml",
                content=meta,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.meta_data_copies = [
            Snippet(f"{name}-meta-data-{node}",
                    SnippetArgs(node_name=node, datastore_id=args.snippets_datastore_id,
                                file_name=f"{args.hostname}-meta-data.yaml", content=meta),
                    opts=pulumi.ResourceOptions(parent=self))
            for node in sorted(set(args.other_nodes) - {args.node_name})
        ]
        ipv4_config = {"address": args.ipv4} if args.ipv4 == "dhcp" else {"address": args.ipv4, "gateway": args.gateway}
        initialization: dict = {
            "datastore_id": args.datastore_id,
            "interface": CLOUD_INIT_INTERFACE,
            "ip_configs": [{"ipv4": ipv4_config}],
            "user_data_file_id": args.user_data_file_id,
            "meta_data_file_id": self.meta_data.file_id,
        }
        if args.dns_domain or args.dns_servers:
            initialization["dns"] = {"domain": args.dns_domain, "servers": list(args.dns_servers)}
        self.vm = proxmoxve.VmLegacy(
            f"{name}-vm",
            node_name=args.node_name,
            vm_id=args.vm_id,
            name=args.hostname,
            description=args.description or f"{args.fqdn}: full clone of a cloud-image template, cloud-init",
            clone={
                "vm_id": args.template_vm_id,
                "node_name": args.template_node_name,
                "datastore_id": args.datastore_id,
                "full": True,
            },
            **vm_hardware(cores=args.cores, memory_mb=args.memory_mb, datastore_id=args.datastore_id,
                          network=args.network, os_type=args.os_type),
            disks=[boot_disk(datastore_id=args.datastore_id, size_gb=args.disk_gb)],
            initialization=initialization,
            on_boot=args.on_boot,
            started=True,
            tags=sorted_tags(args.tags),
            protection=args.protect,
            # Destroy shuts the guest down through ACPI/the agent and waits for it, instead of
            # pulling the plug (stop).
            stop_on_destroy=False,
            timeout_shutdown_vm=args.shutdown_timeout,
            # A new node migrates the VM instead of re-creating it (node_name is ForceNew unless
            # migrate = true: customdiff.ForceNewIf(mkNodeName) in proxmoxtf/resource/vm/vm.go).
            migrate=True,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # The snippets' ids are plain values (known during preview); the files come first.
                depends_on=[self.meta_data.file, *(c.file for c in self.meta_data_copies),
                            *([args.user_data_file] if args.user_data_file else [])],
                # The VMID is fixed: a create-before-delete replacement would collide on it.
                delete_before_replace=True,
                # `clone` matters only at creation (all ForceNew in vm.go): a VM that moves to a node
                # with its own template copy, or a template rebuilt under a new id, stays as it is.
                # Rebuilding a VM from another template is an explicit `pulumi up --replace`.
                ignore_changes=["clone"],
            ),
        )
        self.vm_id = self.vm.vm_id
        self.name = args.hostname
        if args.ipv4 == "dhcp":
            self.ipv4 = self.vm.ipv4_addresses.apply(_first_address)
        else:
            self.ipv4 = pulumi.Output.from_input(args.ipv4.split("/", 1)[0])
        self.register_outputs({"vm_id": self.vm_id, "name": self.name, "ipv4": self.ipv4})


def _network_settings(args: VmArgs) -> dict:
    return {"ipv4": args.ipv4, "gateway": args.gateway, "dns_domain": args.dns_domain,
            "dns_servers": list(args.dns_servers)}


def _first_address(per_interface: list[list[str]] | None) -> str:
    """The first global IPv4 the guest agent reports (interfaces in order, loopback skipped)."""
    for addresses in per_interface or []:
        for address in addresses or []:
            if address and not address.startswith("127."):
                return address
    return ""
