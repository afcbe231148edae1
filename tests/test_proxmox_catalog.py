"""The distribution catalog: pinned images with their published checksums, the seed's VMIDs and tags."""

from __future__ import annotations

import dataclasses

import pytest

from components.catalog import CATALOG, Image


def test_the_seed_distributions_and_todays_debian_and_ubuntu_with_their_default_vmids_and_tags():
    assert {key: d.default_vmid for key, d in CATALOG.items()} == {
        "rocky9": 7000, "rocky10": 7001, "debian12": 9001, "debian13": 9002, "ubuntu2404": 9003}
    assert CATALOG["debian13"].tags == ("cloudinit", "debian-13", "debian-template")
    assert CATALOG["ubuntu2404"].tags == ("cloudinit", "ubuntu-2404", "ubuntu-template")
    assert CATALOG["rocky9"].tags == ("cloudinit", "rocky-template", "rocky9")
    assert CATALOG["debian12"].tags == ("cloudinit", "debian-12", "debian-template")
    assert {d.package_manager for d in CATALOG.values()} == {"dnf", "apt"}
    assert all(d.guest_agent_package == "qemu-guest-agent" and d.os_type == "l26" for d in CATALOG.values())


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_images_are_dated_files_not_moving_latest_links(key):
    distro = CATALOG[key]
    assert distro.key == key
    assert list(distro.tags) == sorted(distro.tags)  # Proxmox sorts tags: anything else diffs forever
    for image in (distro.image, distro.lxc_template):
        if image is None:
            continue
        assert "latest" not in image.url
        assert image.url.endswith("/" + (image.source_file_name or image.file_name))
        assert len(image.checksum) == {"sha256": 64, "sha512": 128}[image.checksum_algorithm]
    # the names the other layers read stay available
    assert (distro.image_url, distro.image_file_name, distro.checksum, distro.checksum_algorithm) == (
        distro.image.url, distro.image.file_name, distro.image.checksum, distro.image.checksum_algorithm)


def test_publishers_sums_files_decide_the_algorithm():
    assert CATALOG["rocky9"].image.checksum_algorithm == "sha256"  # Rocky: CHECKSUM
    assert CATALOG["rocky10"].image.checksum_algorithm == "sha256"
    assert CATALOG["debian12"].image.checksum_algorithm == "sha512"  # Debian: SHA512SUMS
    assert CATALOG["debian12"].lxc_template.checksum_algorithm == "sha512"  # Proxmox aplinfo
    assert CATALOG["debian13"].image.checksum_algorithm == "sha512"  # Debian: SHA512SUMS
    assert CATALOG["ubuntu2404"].image.checksum_algorithm == "sha256"  # Ubuntu: SHA256SUMS
    for key in ("debian13", "ubuntu2404"):
        assert CATALOG[key].lxc_template.checksum_algorithm == "sha512"  # Proxmox aplinfo


def test_an_image_without_a_real_checksum_cannot_be_declared():
    good = CATALOG["rocky9"].image
    with pytest.raises(ValueError, match="64 lowercase hex digits"):
        dataclasses.replace(good, checksum="")
    with pytest.raises(ValueError, match="128 lowercase hex digits"):
        dataclasses.replace(good, checksum_algorithm="sha512")
    with pytest.raises(ValueError, match="must be http"):
        Image(url="ftp://x/" + good.file_name, file_name=good.file_name, checksum=good.checksum,
              checksum_algorithm="sha256", virtual_size_gb=10)
    with pytest.raises(ValueError, match="end with the file name"):
        dataclasses.replace(good, file_name="other.qcow2")


# Every distribution on every platform that offers it: a Proxmox cloud image and LXC template, a
# Linode image id, an Incus image alias (images: remote, the cloud variant that carries cloud-init).
PLATFORMS = {
    "debian13": ("linode/debian13", "images:debian/13/cloud", "debian"),
    "ubuntu2404": ("linode/ubuntu24.04", "images:ubuntu/24.04/cloud", "ubuntu"),
}


@pytest.mark.parametrize("key", sorted(PLATFORMS))
def test_todays_debian_and_ubuntu_are_on_every_platform(key):
    distro = CATALOG[key]
    linode, incus, lxc_type = PLATFORMS[key]
    assert (distro.linode_image, distro.incus_image, distro.lxc_os_type) == (linode, incus, lxc_type)
    assert distro.family == "debian" and distro.package_manager == "apt"
    assert distro.lxc_template is not None and distro.lxc_template.file_name.endswith("_amd64.tar.zst")
    # Proxmox's `import` content type takes .qcow2/.raw/.vmdk names only (go-proxmox#229, bpg#641)
    assert distro.image.file_name.endswith(".qcow2")


def test_facts_the_provisioning_reads():
    assert {k: d.default_user for k, d in CATALOG.items()} == {
        "rocky9": "rocky", "rocky10": "rocky", "debian12": "debian", "debian13": "debian", "ubuntu2404": "ubuntu"}
    assert {k: d.codename for k, d in CATALOG.items() if d.family == "debian"} == {
        "debian12": "bookworm", "debian13": "trixie", "ubuntu2404": "noble"}
    # Debian 13 ships cloud-init 25.1 and Ubuntu 24.04 24.1 (and SRUs up): both >= 23.4
    assert {k: d.cloud_init for k, d in CATALOG.items() if d.cloud_init} == {
        "debian12": "22.4", "debian13": "25.1", "ubuntu2404": "24.1"}


def test_ubuntu_publishes_a_qcow2_as_img_stored_under_a_qcow2_name():
    image = CATALOG["ubuntu2404"].image
    assert image.url.endswith("/release-20260705/ubuntu-24.04-server-cloudimg-amd64.img")
    assert image.source_file_name == "ubuntu-24.04-server-cloudimg-amd64.img"
    assert image.file_name == "ubuntu-24.04-server-cloudimg-amd64-20260705.qcow2"
    with pytest.raises(ValueError, match="end with the file name"):
        dataclasses.replace(image, source_file_name=None)
def test_every_image_carries_its_virtual_size():
    # Rocky GenericCloud: 10 GiB (rocky-linux/kickstarts Rocky-{9,10}-GenericCloud-Base.ks);
    # Debian genericcloud: 2 GiB (debian-cloud-images resources/image.yaml, vendor genericcloud size 2).
    # Ubuntu server cloud images: 3.5 GiB virtual (qemu-img info), so 4 whole GiB.
    assert {key: d.image.virtual_size_gb for key, d in CATALOG.items()} == {
        "rocky9": 10, "rocky10": 10, "debian12": 2, "debian13": 2, "ubuntu2404": 4}
    assert all(d.lxc_template.virtual_size_gb >= 1 for d in CATALOG.values() if d.lxc_template)
    with pytest.raises(ValueError, match="virtual_size_gb"):
        dataclasses.replace(CATALOG["rocky9"].image, virtual_size_gb=0)


def test_rocky_images_know_where_they_stay_once_the_minor_is_superseded():
    # Rocky moves a minor release from /pub/rocky/<minor>/ to /vault/rocky/<minor>/ when the next
    # minor ships: the same pinned file (same name, same checksum) is then only in the vault.
    from components.catalog import ROCKY_MIRROR, ROCKY_VAULT
    for key in ("rocky9", "rocky10"):
        image = CATALOG[key].image
        assert image.url.startswith(ROCKY_MIRROR + "/") and image.archive_url.startswith(ROCKY_VAULT + "/")
        assert image.url.removeprefix(ROCKY_MIRROR) == image.archive_url.removeprefix(ROCKY_VAULT)
        moved = dataclasses.replace(image, url=image.archive_url)  # what the operator switches to
        assert (moved.file_name, moved.checksum) == (image.file_name, image.checksum)
        assert moved.archive_url is None
    assert CATALOG["debian12"].image.archive_url is None
