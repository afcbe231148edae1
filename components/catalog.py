"""The distribution catalog: everything the layers need to know about an operating system.

Adding a distribution is one entry in CATALOG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Distribution:
    """A Linux distribution as templates, clouds and provisioning see it."""

    key: str
    title: str
    family: Literal["debian", "rhel"]
    image_url: str
    image_file_name: str
    checksum: str | None
    checksum_algorithm: Literal["sha256", "sha512"]
    default_vmid: int
    tags: tuple[str, ...]
    package_manager: Literal["apt", "dnf"]
    guest_agent_package: str = "qemu-guest-agent"
    os_type: str = "l26"
    linode_image: str | None = None
    incus_image: str | None = None


CATALOG: dict[str, Distribution] = {
    d.key: d
    for d in (
        Distribution(
            key="rocky9",
            title="Rocky Linux 9",
            family="rhel",
            image_url="https://dl.rockylinux.org/pub/rocky/9/images/x86_64/Rocky-9-GenericCloud.latest.x86_64.qcow2",
            image_file_name="Rocky-9-GenericCloud.latest.x86_64.qcow2",
            checksum=None,
            checksum_algorithm="sha256",
            default_vmid=7000,
            tags=("cloudinit", "rocky-template", "rocky9"),
            package_manager="dnf",
            linode_image="linode/rocky9",
            incus_image="images:rockylinux/9/cloud",
        ),
        Distribution(
            key="rocky10",
            title="Rocky Linux 10",
            family="rhel",
            image_url="https://dl.rockylinux.org/pub/rocky/10/images/x86_64/Rocky-10-GenericCloud.latest.x86_64.qcow2",
            image_file_name="Rocky-10-GenericCloud.latest.x86_64.qcow2",
            checksum=None,
            checksum_algorithm="sha256",
            default_vmid=7001,
            tags=("cloudinit", "rocky-template", "rocky10"),
            package_manager="dnf",
            linode_image="linode/rocky10",
            incus_image="images:rockylinux/10/cloud",
        ),
        Distribution(
            key="debian12",
            title="Debian 12 (bookworm)",
            family="debian",
            image_url="https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2",
            image_file_name="debian-12-generic-amd64.qcow2",
            checksum=None,
            checksum_algorithm="sha512",
            default_vmid=9001,
            tags=("cloudinit", "debian-12", "debian-template"),
            package_manager="apt",
            linode_image="linode/debian12",
            incus_image="images:debian/12/cloud",
        ),
    )
}
