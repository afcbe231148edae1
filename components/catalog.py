"""The distribution catalog: everything the layers need to know about an operating system.

Adding a distribution is one entry in CATALOG: its images (cloud image, LXC template), its ids on
Linode and Incus, and its facts for provisioning (family, package manager, default user, admin
group, cloud-init version); README "Adding a distribution" walks through it.

Images are pinned: a dated, versioned file with the checksum its publisher lists next to it
(Rocky: `CHECKSUM` in the image directory, sha256; Debian: `SHA512SUMS`, sha512; Ubuntu:
`SHA256SUMS`, sha256, lines `<hex> *<file>`; Proxmox appliance templates: the `aplinfo` index,
sha512). Proxmox verifies the checksum while it
downloads, so a changed upstream file fails the download instead of building a different
template. To move to a newer image, `make bump-image DIST=<key>` (pins/bump_image.py) rewrites URL,
file name and checksum together from the publisher's sums file.

Rocky publishes images under the minor release (`/pub/rocky/9.8/`); when the next minor ships that
tree moves to the vault (`/vault/rocky/9.8/`) and the download 404s. `Image.archive_url` says where
the pinned file stays: until the entry is bumped (`make bump-image`, then check the virtual size
with `qemu-img info`), a superseded minor keeps working by putting that URL in `url` (same file,
same checksum). The downloads ignore a change of the URL alone (components/proxmox/template.py),
so that switch rebuilds nothing that exists; only new downloads use it.

An `Image` refuses to exist without a checksum: an entry whose checksum is not known is not
added here with a guess; it waits until the checksum is copied from the publisher's sums file.

Every image also carries its virtual size (`virtual_size_gb`, GiB): the bpg provider resizes an
imported disk to the configured size and Proxmox refuses a shrink ("shrinking disks is not
supported", bpg/terraform-provider-proxmox issue #1351), so the config validation refuses a
template, VM or container disk smaller than its image (stacks/config/proxmox.py). `qemu-img info
<file>` shows the value ("virtual size") when a new image is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ChecksumAlgorithm = Literal["sha256", "sha512"]
ROCKY_MIRROR = "https://dl.rockylinux.org/pub/rocky"
ROCKY_VAULT = "https://dl.rockylinux.org/vault/rocky"
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
PACKAGE_MANAGERS: dict[str, Literal["apt", "dnf"]] = {"debian": "apt", "rhel": "dnf"}  # by family


@dataclass(frozen=True)
class Image:
    """A downloadable, checksummed file: a cloud disk image or an LXC template."""

    url: str
    file_name: str
    checksum: str
    checksum_algorithm: ChecksumAlgorithm
    virtual_size_gb: int  # the disk the image unpacks to (GiB): the smallest disk it fits on
    # The name at the URL when it differs from `file_name`, the name the file is stored under:
    # Proxmox's `import` content type takes only .qcow2, .raw and .vmdk files, and Ubuntu publishes
    # its (qcow2) cloud images as `.img`.
    source_file_name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.virtual_size_gb, int) or self.virtual_size_gb < 1:
            raise ValueError(f"{self.file_name}: virtual_size_gb must be a positive whole number of GiB")
        length = _HEX_LENGTH[self.checksum_algorithm]
        if not re.fullmatch(rf"[0-9a-f]{{{length}}}", self.checksum or ""):
            raise ValueError(f"{self.file_name}: checksum must be {length} lowercase hex digits "
                             f"({self.checksum_algorithm}) copied from the publisher's sums file")
        published = self.source_file_name or self.file_name
        if not self.url.startswith(("https://", "http://")) or not self.url.endswith("/" + published):
            raise ValueError(f"{self.file_name}: url must be http(s) and end with the file name")

    @property
    def archive_url(self) -> str | None:
        """Where the same file stays once its release is superseded: Rocky moves a minor release's
        tree from /pub/rocky/<minor>/ to /vault/rocky/<minor>/ when the next minor ships."""
        if self.url.startswith(ROCKY_MIRROR + "/"):
            return ROCKY_VAULT + self.url.removeprefix(ROCKY_MIRROR)
        return None


@dataclass(frozen=True)
class Distribution:
    """A Linux distribution as templates, clouds and provisioning see it."""

    key: str
    title: str
    family: Literal["debian", "rhel"]
    image: Image  # cloud disk image for Proxmox templates (content type `import`)
    default_vmid: int
    tags: tuple[str, ...]
    guest_agent_package: str = "qemu-guest-agent"
    os_type: str = "l26"  # Proxmox `ostype`
    default_user: str = "root"  # the image's own cloud user, before provisioning
    lxc_template: Image | None = None  # Proxmox appliance template (content type `vztmpl`)
    lxc_os_type: str | None = None  # ContainerLegacy operating_system.type
    linode_image: str | None = None
    incus_image: str | None = None
    # Facts the provisioning reads. codename: the release's suite (the tests debootstrap Debian
    # suites by it); admin_group None: the family's (sudo on Debian and Ubuntu, wheel on Rocky);
    # cloud_init: the version the cloud image ships (major.minor): from 23.4 on, `cloud-init status
    # --wait` exits 2 when it finished with recoverable errors (deprecated keys), which the
    # readiness wait must accept (cloudinit/render.py CLOUD_INIT_WAIT).
    codename: str | None = None
    admin_group: str | None = None
    cloud_init: str | None = None

    @property
    def package_manager(self) -> Literal["apt", "dnf"]:
        return PACKAGE_MANAGERS[self.family]

    @property
    def image_url(self) -> str:
        return self.image.url

    @property
    def image_file_name(self) -> str:
        return self.image.file_name

    @property
    def checksum(self) -> str:
        return self.image.checksum

    @property
    def checksum_algorithm(self) -> str:
        return self.image.checksum_algorithm


# Rocky GenericCloud, 9 and 10: a 10 GiB virtual disk, so `disk_gb: 8` is a shrink.
# rocky-linux/kickstarts Rocky-9-GenericCloud-Base.ks: prepboot 4 + biosboot 1 + /boot/efi 100 +
# /boot 1000 + / 8000 MiB = 9105 MiB of partitions; Rocky-10-GenericCloud-Base.ks: its %pre makes
# the last partition end at 10.7GB (10 GiB).
ROCKY_GENERICCLOUD_GB = 10
# Debian genericcloud: `size: 2` for the vendor genericcloud in debian-cloud-images
# (salsa.debian.org/cloud-team/debian-cloud-images, src/debian_cloud_images/resources/image.yaml).
DEBIAN_GENERICCLOUD_GB = 2
# Debian 13 is built by the same config: the genericcloud vendor's size has no per-release override.
# Ubuntu server cloud images (noble): `qemu-img info` shows "virtual size: 3.5 GiB (3758096384
# bytes)", so the smallest whole-GiB disk is 4.
UBUNTU_SERVER_CLOUDIMG_GB = 4
# A Proxmox "standard" appliance template is a root file system tarball, not a disk: the container's
# disk only has to hold it unpacked (well under 1 GiB for debian-12-standard).
PROXMOX_STANDARD_CT_GB = 1


# One constructor per kind of image: each publisher's checksum algorithm (the sums file it lists;
# pins/bump_image.py PUBLISHERS reads the same files) and the kind's virtual size. The entries give
# only what changes with a build: url, file name, checksum (what `make bump-image` rewrites), and a
# `virtual_size_gb` of their own only when a build's qcow2 header says it differs from the kind's
# (`make bump-image` measures it and writes it then).

def rocky_genericcloud(url: str, file_name: str, checksum: str, virtual_size_gb: int = ROCKY_GENERICCLOUD_GB) -> Image:
    """A Rocky GenericCloud Base image: sha256 from the image directory's `CHECKSUM`."""
    return Image(url, file_name, checksum, "sha256", virtual_size_gb)


def debian_genericcloud(url: str, file_name: str, checksum: str, virtual_size_gb: int = DEBIAN_GENERICCLOUD_GB) -> Image:
    """A Debian genericcloud image: sha512 from the build's `SHA512SUMS`."""
    return Image(url, file_name, checksum, "sha512", virtual_size_gb)


def ubuntu_server_cloudimg(url: str, file_name: str, checksum: str, source_file_name: str,
                           virtual_size_gb: int = UBUNTU_SERVER_CLOUDIMG_GB) -> Image:
    """An Ubuntu server cloud image: sha256 from the release's `SHA256SUMS`, published as `.img`."""
    return Image(url, file_name, checksum, "sha256", virtual_size_gb, source_file_name=source_file_name)


def proxmox_standard_template(url: str, file_name: str, checksum: str) -> Image:
    """A Proxmox "standard" appliance template: sha512 from the `aplinfo` index."""
    return Image(url, file_name, checksum, "sha512", PROXMOX_STANDARD_CT_GB)

CATALOG: dict[str, Distribution] = {
    d.key: d
    for d in (
        Distribution(
            key="rocky9",
            title="Rocky Linux 9",
            family="rhel",
            image=rocky_genericcloud(
                url="https://dl.rockylinux.org/pub/rocky/9.8/images/x86_64/"
                    "Rocky-9-GenericCloud-Base-9.8-20260525.0.x86_64.qcow2",
                file_name="Rocky-9-GenericCloud-Base-9.8-20260525.0.x86_64.qcow2",
                checksum="92c206cc6f790c61583247eefe87890f8828420662c17cacf247cec78ab4eec8",
            ),
            default_vmid=7000,
            tags=("cloudinit", "rocky-template", "rocky9"),
            default_user="rocky",
            linode_image="linode/rocky9",
            incus_image="images:rockylinux/9/cloud",
        ),
        Distribution(
            key="rocky10",
            title="Rocky Linux 10",
            family="rhel",
            image=rocky_genericcloud(
                url="https://dl.rockylinux.org/pub/rocky/10.2/images/x86_64/"
                    "Rocky-10-GenericCloud-Base-10.2-20260525.0.x86_64.qcow2",
                file_name="Rocky-10-GenericCloud-Base-10.2-20260525.0.x86_64.qcow2",
                checksum="9fc9e9ff16888bb68ac39b0392e25c9c92684d50c85f1cce6ab549363bbc4b48",
            ),
            default_vmid=7001,
            tags=("cloudinit", "rocky-template", "rocky10"),
            default_user="rocky",
            linode_image="linode/rocky10",
            incus_image="images:rockylinux/10/cloud",
        ),
        Distribution(
            key="debian12",
            title="Debian 12 (bookworm)",
            family="debian",
            # genericcloud: the generic image without drivers for physical hardware; boots on KVM.
            image=debian_genericcloud(
                url="https://cloud.debian.org/images/cloud/bookworm/20261006-2623/"
                    "debian-12-genericcloud-amd64-20261006-2623.qcow2",
                file_name="debian-12-genericcloud-amd64-20261006-2623.qcow2",
                checksum="a09170d17e13af43da61774666f520e3bbec0f8bd96b4db37c15f3426fb327cc"
                         "ad950b80dbe78c09aa5ca90ce5015e99334b0ba5188fd4018736bc3fb5f0882c",
            ),
            default_vmid=9001,
            tags=("cloudinit", "debian-12", "debian-template"),
            default_user="debian",
            lxc_template=proxmox_standard_template(
                url="http://download.proxmox.com/images/system/debian-12-standard_12.7-1_amd64.tar.zst",
                file_name="debian-12-standard_12.7-1_amd64.tar.zst",
                checksum="39f6d06e082d6a418438483da4f76092ebd0370a91bad30b82ab6d0f442234d6"
                         "3fe27a15569895e34d6d1e5ca50319f62637f7fb96b98dbde4f6103cf05bff6d",
            ),
            lxc_os_type="debian",
            linode_image="linode/debian12",
            incus_image="images:debian/12/cloud",
            codename="bookworm",
            cloud_init="22.4",  # bookworm's cloud-init 22.4.2-1+deb12u4 (apt-cache policy on its suite)
        ),
        Distribution(
            key="debian13",
            title="Debian 13 (trixie)",
            family="debian",
            # Build 20260712-2537: the digest Debian publishes for it (SHA512SUMS and the build's
            # .json beside the image), as lima-vm/lima templates/_images/debian-13.yaml @183a60d
            # carries it (its hack/update-template-debian.sh reads it from Debian's build metadata).
            image=debian_genericcloud(
                url="https://cloud.debian.org/images/cloud/trixie/20260712-2537/"
                    "debian-13-genericcloud-amd64-20260712-2537.qcow2",
                file_name="debian-13-genericcloud-amd64-20260712-2537.qcow2",
                checksum="7ae53e9dbee282bfc16f289dec483dde3a8598769c38a267948310f7a2a52c66"
                         "2620198603bc52c142627efba379863d16079698a10b34102d55bcedd40e8d32",
            ),
            default_vmid=9002,
            tags=("cloudinit", "debian-13", "debian-template"),
            default_user="debian",
            # proxmox/pve-manager aplinfo/aplinfo.dat @14a22df: debian-13-standard 13.6-1, sha512sum.
            lxc_template=proxmox_standard_template(
                url="http://download.proxmox.com/images/system/debian-13-standard_13.6-1_amd64.tar.zst",
                file_name="debian-13-standard_13.6-1_amd64.tar.zst",
                checksum="4c0c27ca6ceab5ef0b84db57825a00f26157ef1854bafe97297813e1cbe8ecb8"
                         "cc9c453cab6b3b0efe1ba193a50c47ece1e41d950e411b8730b835b71e9e754b",
            ),
            lxc_os_type="debian",
            linode_image="linode/debian13",
            incus_image="images:debian/13/cloud",
            codename="trixie",
            cloud_init="25.1",  # trixie's cloud-init 25.1.4-1+deb13u1 (apt-cache policy on its suite)
        ),
        Distribution(
            key="ubuntu2404",
            title="Ubuntu 24.04 LTS (noble)",
            family="debian",
            # release-20260705 of the server cloud image: the sha256 Ubuntu lists for it in the
            # release's SHA256SUMS (`<hex> *ubuntu-24.04-server-cloudimg-amd64.img`), as
            # lima-vm/lima templates/_images/ubuntu-24.04.yaml @183a60d carries it (its
            # hack/update-template-ubuntu.sh reads it from that SHA256SUMS). The `.img` is a qcow2
            # image; Proxmox imports it only under a .qcow2 name.
            image=ubuntu_server_cloudimg(
                url="https://cloud-images.ubuntu.com/releases/noble/release-20260705/"
                    "ubuntu-24.04-server-cloudimg-amd64.img",
                file_name="ubuntu-24.04-server-cloudimg-amd64-20260705.qcow2",
                checksum="ffe6203da54deeb6db5d2a98a83f9ec8e55f149d3f7ba622e1abe5fa966ee3d6",
                source_file_name="ubuntu-24.04-server-cloudimg-amd64.img",
            ),
            default_vmid=9003,
            tags=("cloudinit", "ubuntu-2404", "ubuntu-template"),
            default_user="ubuntu",
            # proxmox/pve-manager aplinfo/aplinfo.dat @14a22df: ubuntu-24.04-standard 24.04-2, sha512sum.
            lxc_template=proxmox_standard_template(
                url="http://download.proxmox.com/images/system/ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
                file_name="ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
                checksum="45c2978e6b97fe292ada95fe06834276015e5739a594db4de2fdfd830fa0c379"
                         "42e8ae118fc1e32ffd9154b3f9378b592738b668ea3957db41f2907b86f219de",
            ),
            lxc_os_type="ubuntu",
            linode_image="linode/ubuntu24.04",
            incus_image="images:ubuntu/24.04/cloud",
            codename="noble",
            cloud_init="24.1",  # noble released with cloud-init 24.1.3; stable updates move it up, never below
        ),
    )
}
