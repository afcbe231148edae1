"""The distribution catalog: pinned images with their published checksums, the seed's VMIDs and tags."""

from __future__ import annotations

import dataclasses

import pytest

from components.catalog import CATALOG, Image


def test_the_three_seed_distributions_with_their_default_vmids_and_tags():
    assert {key: d.default_vmid for key, d in CATALOG.items()} == {"rocky9": 7000, "rocky10": 7001, "debian12": 9001}
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
        assert image.url.endswith("/" + image.file_name)
        assert len(image.checksum) == {"sha256": 64, "sha512": 128}[image.checksum_algorithm]
    # the names the other layers read stay available
    assert (distro.image_url, distro.image_file_name, distro.checksum, distro.checksum_algorithm) == (
        distro.image.url, distro.image.file_name, distro.image.checksum, distro.image.checksum_algorithm)


def test_publishers_sums_files_decide_the_algorithm():
    assert CATALOG["rocky9"].image.checksum_algorithm == "sha256"  # Rocky: CHECKSUM
    assert CATALOG["rocky10"].image.checksum_algorithm == "sha256"
    assert CATALOG["debian12"].image.checksum_algorithm == "sha512"  # Debian: SHA512SUMS
    assert CATALOG["debian12"].lxc_template.checksum_algorithm == "sha512"  # Proxmox aplinfo


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


def test_every_image_carries_its_virtual_size():
    # Rocky GenericCloud: 10 GiB (rocky-linux/kickstarts Rocky-{9,10}-GenericCloud-Base.ks);
    # Debian genericcloud: 2 GiB (debian-cloud-images resources/image.yaml, vendor genericcloud size 2).
    assert {key: d.image.virtual_size_gb for key, d in CATALOG.items()} == {"rocky9": 10, "rocky10": 10, "debian12": 2}
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
