"""A VM template built from a distribution's cloud image, on one node."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_proxmoxve as proxmoxve

from components.catalog import Distribution

from .hardware import BOOT_DISK, CLOUD_INIT_INTERFACE, NetworkArgs, boot_disk, sorted_tags, vm_hardware

TEMPLATE_TYPE = "homelab:proxmox:Template"


@dataclass(frozen=True)
class TemplateArgs:
    """Where the template lives and its hardware (clones inherit it)."""

    node_name: str
    vm_id: int
    distribution: Distribution
    datastore_id: str  # VM disks, EFI disk, cloud-init drive
    image_datastore_id: str  # a storage with the `Import` content type
    network: NetworkArgs
    cores: int = 4
    memory_mb: int = 4096
    disk_gb: int = 8
    tags: tuple[str, ...] = ()
    protect: bool = False


class Template(pulumi.ComponentResource):
    """Downloads the cloud image (checksum verified by Proxmox) and builds a VM template from it.

    The template is rebuilt (deleted, then created: its VMID is fixed) whenever the image or its
    hardware changes; full clones made earlier do not depend on it and stay.
    """

    vm_id: pulumi.Output[int]
    node_name: str
    image_id: pulumi.Output[str]

    def __init__(self, name: str, args: TemplateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TEMPLATE_TYPE, name, None, opts)
        distro = args.distribution
        image = distro.image
        self.image = proxmoxve.download.File(
            f"{name}-image",
            node_name=args.node_name,
            datastore_id=args.image_datastore_id,
            content_type="import",
            url=image.url,
            file_name=image.file_name,
            checksum=image.checksum,
            checksum_algorithm=image.checksum_algorithm,
            upload_timeout=1800,
            # The file is pinned by name and checksum; `url` alone (RequiresReplace in bpg
            # resource_download_file.go) only says where to fetch it: a move of the same file to
            # an archive must not rebuild the template and, through its VMID, its clones.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["url"]),
        )
        self.vm = proxmoxve.VmLegacy(
            f"{name}-template",
            node_name=args.node_name,
            vm_id=args.vm_id,
            name=f"{distro.key}-template",
            description=f"{distro.title} cloud-image template ({image.file_name})",
            template=True,
            started=False,
            on_boot=False,
            tags=sorted_tags(distro.tags, args.tags),
            **vm_hardware(cores=args.cores, memory_mb=args.memory_mb, datastore_id=args.datastore_id,
                          network=args.network, os_type=distro.os_type),
            disks=[boot_disk(datastore_id=args.datastore_id, size_gb=args.disk_gb, import_from=self.image.id)],
            boot_orders=[BOOT_DISK],
            initialization={
                "datastore_id": args.datastore_id,
                "interface": CLOUD_INIT_INTERFACE,
                "ip_configs": [{"ipv4": {"address": "dhcp"}}],
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # A template cannot be changed into a different image in place, and its VMID is
                # fixed: any change rebuilds it, the old one deleted first.
                replace_on_changes=["*"],
                delete_before_replace=True,
            ),
        )
        self.vm_id = self.vm.vm_id
        self.node_name = args.node_name
        self.image_id = self.image.id
        self.register_outputs({"vm_id": self.vm_id, "image_id": self.image_id})
