"""Cloud images: every catalog entry has its publisher's formats, and `make bump-image` moves an
entry to the newest build its publisher lists (indexes and sums files in the publishers' formats)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from components.catalog import CATALOG
from pins import bump_image
from pins.bump_image import Build, BumpError, bump, publisher_of, rewrite_image

ROOT = Path(__file__).resolve().parent.parent
IMAGES = [(key, image) for key, dist in sorted(CATALOG.items())
          for image in (dist.image, dist.lxc_template) if image is not None]

# Listings and sums files in the formats the publishers serve (directory indexes as HTML with
# href links; Debian's GNU-style SHA512SUMS, Rocky's BSD-style CHECKSUM, Proxmox's aplinfo stanzas).
NEW_DEBIAN = "20261120-2655"
NEW_DEBIAN_SUM = "b" * 128
NEW_ROCKY = "Rocky-9-GenericCloud-Base-9.10-20261115.0.x86_64.qcow2"
NEW_ROCKY_SUM = "c" * 64
NEW_LXC = "debian-12-standard_12.12-1_amd64.tar.zst"
NEW_LXC_SUM = "d" * 128


def fake_publishers(url: str) -> str:
    pages = {
        "https://cloud.debian.org/images/cloud/bookworm/":
            '<a href="../">../</a><a href="20261006-2623/">20261006-2623/</a>'
            f'<a href="{NEW_DEBIAN}/">{NEW_DEBIAN}/</a><a href="20250101-1990/">x</a>'
            '<a href="daily/">daily/</a><a href="latest/">latest/</a>',
        f"https://cloud.debian.org/images/cloud/bookworm/{NEW_DEBIAN}/SHA512SUMS":
            f"{'e' * 128}  debian-12-generic-amd64-{NEW_DEBIAN}.qcow2\n"
            f"{NEW_DEBIAN_SUM}  debian-12-genericcloud-amd64-{NEW_DEBIAN}.qcow2\n",
        "https://dl.rockylinux.org/pub/rocky/9/images/x86_64/":
            '<a href="Rocky-9-GenericCloud-Base-9.8-20260525.0.x86_64.qcow2">a</a>'
            f'<a href="{NEW_ROCKY}">b</a>'
            '<a href="Rocky-9-GenericCloud-Base-9.9-20260901.0.x86_64.qcow2">c</a>'
            '<a href="Rocky-9-GenericCloud-LVM-9.10-20261120.0.x86_64.qcow2">d</a>'
            '<a href="Rocky-9-GenericCloud-Base.latest.x86_64.qcow2">e</a>'
            '<a href="CHECKSUM">CHECKSUM</a>',
        "https://dl.rockylinux.org/pub/rocky/9/images/x86_64/CHECKSUM":
            f"# {NEW_ROCKY}: 612368384 bytes\n"
            f"SHA256 ({NEW_ROCKY}) = {NEW_ROCKY_SUM}\n"
            f"SHA256 (Rocky-9-GenericCloud-LVM-9.10-20261120.0.x86_64.qcow2) = {'f' * 64}\n",
        bump_image.APLINFO:
            "Package: debian-12-standard\nVersion: 12.7-1\nLocation: system/debian-12-standard_12.7-1_amd64.tar.zst\n"
            f"sha512sum: {'0' * 128}\n\n"
            f"Package: debian-12-standard\nVersion: 12.12-1\nLocation: system/{NEW_LXC}\nsha512sum: {NEW_LXC_SUM}\n\n"
            f"Package: debian-13-standard\nVersion: 13.1-2\nLocation: system/debian-13-standard_13.1-2_amd64.tar.zst\n"
            f"sha512sum: {'1' * 128}\n",
    }
    if url not in pages:
        raise OSError(f"no such page in the test's publishers: {url}")
    return pages[url]


@pytest.mark.parametrize(("key", "image"), IMAGES, ids=[i.file_name for _, i in IMAGES])
def test_every_catalog_image_has_its_publishers_url_and_checksum_format(key, image):
    publisher = publisher_of(image)
    assert image.checksum_algorithm == publisher.checksum_algorithm, publisher.name
    assert re.fullmatch(r"[0-9a-f]+", image.checksum)
    assert image.url.endswith("/" + (image.source_file_name or image.file_name))


def test_a_url_no_publisher_serves_is_refused():
    image = CATALOG["debian12"].image
    moved = type(image)("https://mirror.example.org/debian.qcow2", "debian.qcow2", image.checksum, "sha512", image.virtual_size_gb)
    with pytest.raises(BumpError, match="no known publisher"):
        publisher_of(moved)


def test_bump_moves_debian12_image_and_lxc_template_to_the_newest_builds(tmp_path):
    catalog = tmp_path / "catalog.py"
    before = bump_image.CATALOG_FILE.read_text()
    catalog.write_text(before)
    lines = bump("debian12", fetch=fake_publishers, catalog_file=catalog)
    after = catalog.read_text()
    assert lines == [f"debian12: {CATALOG['debian12'].image.file_name} -> "
                     f"debian-12-genericcloud-amd64-{NEW_DEBIAN}.qcow2",
                     f"debian12: {CATALOG['debian12'].lxc_template.file_name} -> {NEW_LXC}"]
    assert f"https://cloud.debian.org/images/cloud/bookworm/{NEW_DEBIAN}/" in after
    assert f'file_name="debian-12-genericcloud-amd64-{NEW_DEBIAN}.qcow2"' in after
    assert NEW_DEBIAN_SUM[:64] in after and NEW_LXC_SUM[:64] in after
    assert f'"http://download.proxmox.com/images/system/{NEW_LXC}"' in after
    assert CATALOG["debian12"].image.checksum[:64] not in after
    # The other entries are untouched, and the file is still Python the catalog loads.
    assert CATALOG["rocky9"].image.checksum in after
    compile(after, str(catalog), "exec")
    assert len(after.splitlines()) == len(before.splitlines())


def test_bump_moves_rocky_to_the_newest_minor_in_its_own_directory(tmp_path):
    catalog = tmp_path / "catalog.py"
    catalog.write_text(bump_image.CATALOG_FILE.read_text())
    bump("rocky9", fetch=fake_publishers, catalog_file=catalog)
    after = catalog.read_text()
    assert f'"https://dl.rockylinux.org/pub/rocky/9.10/images/x86_64/"\n' in after
    assert f'file_name="{NEW_ROCKY}"' in after and NEW_ROCKY_SUM in after


def test_bump_to_the_same_build_leaves_the_catalog_byte_identical():
    source = bump_image.CATALOG_FILE.read_text()
    rewritten = source
    for _, image in IMAGES:
        rewritten = rewrite_image(rewritten, image, Build(image.url, image.file_name, image.checksum,
                                                          image.source_file_name))
    assert rewritten == source


def test_a_sums_file_without_the_image_is_an_error_and_nothing_is_written(tmp_path):
    catalog = tmp_path / "catalog.py"
    catalog.write_text(bump_image.CATALOG_FILE.read_text())

    def no_genericcloud(url: str) -> str:
        text = fake_publishers(url)
        return "\n".join(line for line in text.splitlines() if "genericcloud" not in line)

    with pytest.raises(BumpError, match="not listed"):
        bump("debian12", fetch=no_genericcloud, catalog_file=catalog)
    assert catalog.read_text() == bump_image.CATALOG_FILE.read_text()


def test_make_bump_image_refuses_an_unknown_distribution_with_exit_2():
    done = subprocess.run([sys.executable, "-m", "pins.bump_image", "--dist", "plan9"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("bump-image: plan9: not in the catalog")
    assert "Traceback" not in done.stderr
    assert "bump-image:" in (ROOT / "Makefile").read_text()


def test_bump_moves_ubuntu_to_the_newest_release_still_stored_under_a_qcow2_name(tmp_path):
    catalog = tmp_path / "catalog.py"
    catalog.write_text(bump_image.CATALOG_FILE.read_text())
    base = "https://cloud-images.ubuntu.com/releases/noble/"
    image = "ubuntu-24.04-server-cloudimg-amd64.img"
    pages = {
        base: '<a href="release-20260705/">a</a><a href="release-20261112/">b</a><a href="release/">c</a>',
        f"{base}release-20261112/SHA256SUMS": f"{'9' * 64} *ubuntu-24.04-server-cloudimg-arm64.img\n"
                                              f"{'8' * 64} *{image}\n",
        bump_image.APLINFO: "Package: ubuntu-24.04-standard\nVersion: 24.04-2\n"
                            "Location: system/ubuntu-24.04-standard_24.04-2_amd64.tar.zst\n"
                            f"sha512sum: {CATALOG['ubuntu2404'].lxc_template.checksum}\n",
    }
    lines = bump("ubuntu2404", fetch=lambda url: pages[url], catalog_file=catalog)
    assert lines == [
        "ubuntu2404: ubuntu-24.04-server-cloudimg-amd64-20260705.qcow2 -> "
        "ubuntu-24.04-server-cloudimg-amd64-20261112.qcow2",
        "ubuntu2404: ubuntu-24.04-standard_24.04-2_amd64.tar.zst is the newest build",
    ]
    after = catalog.read_text()
    assert f'"{base}release-20261112/"\n' in after and "8" * 64 in after
    assert 'file_name="ubuntu-24.04-server-cloudimg-amd64-20261112.qcow2"' in after
    assert f'source_file_name="{image}"' in after
    compile(after, str(catalog), "exec")


@pytest.mark.parametrize(("dist", "index", "message"), [
    ("debian12", "https://cloud.debian.org/images/cloud/bookworm/", "no dated builds listed"),
    ("rocky9", "https://dl.rockylinux.org/pub/rocky/9/images/x86_64/", "no GenericCloud Base images listed"),
    ("ubuntu2404", "https://cloud-images.ubuntu.com/releases/noble/", "no releases listed"),
])
def test_an_index_listing_no_build_is_an_error_naming_it_and_nothing_is_written(tmp_path, dist, index, message):
    catalog = tmp_path / "catalog.py"
    catalog.write_text(bump_image.CATALOG_FILE.read_text())
    # The index lists only names that are not builds (parent, `latest`, `daily`, the wrong variant).
    listing = '<a href="../">../</a><a href="latest/">latest/</a><a href="daily/">daily/</a>' \
              '<a href="Rocky-9-GenericCloud-LVM-9.10-20261120.0.x86_64.qcow2">x</a>'
    with pytest.raises(BumpError) as caught:
        bump(dist, fetch=lambda url: listing if url == index else fake_publishers(url), catalog_file=catalog)
    assert str(caught.value) == f"{index}: {message}"
    assert catalog.read_text() == bump_image.CATALOG_FILE.read_text()


@pytest.mark.parametrize("key", ["debian12", "rocky9", "ubuntu2404"])
def test_an_image_url_not_in_its_publishers_format_is_refused_by_name(key):
    image = CATALOG[key].image
    publisher = publisher_of(image)
    moved = type(image)(image.url.replace("https://", "https://mirror.example.org/"), image.file_name,
                        image.checksum, image.checksum_algorithm, image.virtual_size_gb,
                        source_file_name=image.source_file_name)
    with pytest.raises(BumpError, match=r"^https://mirror\.example\.org/.*: not an? [A-Z][a-z]+ .* URL$"):
        publisher.newest(moved, fake_publishers)
