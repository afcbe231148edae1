"""`make bump-image DIST=<key>`: move a catalog entry to its publisher's newest build.

Renovate cannot recompute a checksum, so cloud images and LXC templates are bumped here, on an
operator's machine with network access. For each image of the entry (the cloud image, and the
LXC template if there is one) this reads the publisher's index and sums file, picks the newest
build, and rewrites url, file name and checksum in components/catalog.py. Nothing is downloaded
but the index and the sums file. Review the diff, then `make synth` and `make plan` show what the
new image replaces (templates are rebuilt; clones are not touched).

Publishers and the formats they publish (tests/test_bump_image.py checks the catalog against them):
- Debian cloud images: https://cloud.debian.org/images/cloud/<codename>/<YYYYMMDD-NNNN>/ with a
  GNU-style `SHA512SUMS` (`<sha512>  <file>`).
- Rocky Linux: https://dl.rockylinux.org/pub/rocky/<major>/images/x86_64/ (the major points at
  the current minor) with a BSD-style `CHECKSUM` (`SHA256 (<file>) = <sha256>`).
- Ubuntu cloud images: https://cloud-images.ubuntu.com/releases/<codename>/release-<YYYYMMDD>/
  with `SHA256SUMS` (`<sha256> *<file>`).
- Proxmox appliance templates: the `aplinfo-pve-<N>.dat` index, stanzas with `Location:` and
  `sha512sum:`.

A cloud image's virtual size (the catalog's `virtual_size_gb`, which the disk checks use) is read
from the new build itself: one HTTP Range request for the first 72 bytes, the qcow2 header
(qemu docs/interop/qcow2.txt: magic "QFI\\xfb" at 0, version 2 or 3 at 4, the virtual disk size in
bytes as a big-endian u64 at 24; a version 2 header is exactly 72 bytes). Every publisher above
ships qcow2 (Ubuntu's `.img` too); an image in any other format (raw, vmdk, ...) has no such
header, so the bump refuses it and writes nothing: measure it with `qemu-img info` instead.
LXC templates are root file system tarballs, not disks: their size is left as it is.
"""

from __future__ import annotations

import argparse
import math
import re
import struct
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.catalog import CATALOG, Image

ROOT = Path(__file__).resolve().parent.parent
CATALOG_FILE = ROOT / "components" / "catalog.py"

Fetch = Callable[[str], str]
FetchHead = Callable[[str, int], bytes]  # (url, n) -> at most the first n bytes of the file


@dataclass(frozen=True)
class Build:
    """The newest build a publisher lists: where it is and its checksum."""

    url: str
    file_name: str  # the name the catalog stores it under
    checksum: str
    source_file_name: str | None = None  # the name at the URL, when the stored one differs (catalog.Image)


class BumpError(Exception):
    """The publisher's index or sums file did not have the expected shape."""


def fetch_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - https/http URLs only
        return response.read().decode()


def fetch_head(url: str, length: int) -> bytes:
    """The first `length` bytes of `url`, by an HTTP Range request. A server that ignores Range
    answers 200 with the whole file: only `length` bytes are read from it before closing."""
    request = urllib.request.Request(url, headers={"Range": f"bytes=0-{length - 1}"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - https/http URLs only
        return response.read(length)


# ---- qcow2 virtual size (qemu docs/interop/qcow2.txt, "Header") ---------------------------------

QCOW2_MAGIC = b"QFI\xfb"
QCOW2_HEADER_BYTES = 72  # a version 2 header; version 3 starts with the same 72 bytes
GIB = 1 << 30


def qcow2_virtual_size(header: bytes, url: str) -> int:
    """The virtual disk size in bytes from the first bytes of a qcow2 image."""
    if len(header) >= 4 and header[:4] != QCOW2_MAGIC:
        raise BumpError(f"{url}: not a qcow2 image (it starts with {header[:4]!r}, not {QCOW2_MAGIC!r}); raw and "
                        "other formats carry no virtual size in a header: measure it with `qemu-img info` and set "
                        "virtual_size_gb by hand")
    if len(header) < QCOW2_HEADER_BYTES:
        raise BumpError(f"{url}: only {len(header)} bytes came back, a qcow2 header has {QCOW2_HEADER_BYTES}")
    version, = struct.unpack_from(">I", header, 4)
    size, = struct.unpack_from(">Q", header, 24)
    if version not in (2, 3):
        raise BumpError(f"{url}: qcow2 version {version} (valid versions are 2 and 3)")
    if size == 0:
        raise BumpError(f"{url}: the qcow2 header gives a virtual size of 0 bytes")
    return size


def virtual_size_gb(url: str, head: FetchHead) -> int:
    """The smallest whole number of GiB the image's virtual disk fits on."""
    return math.ceil(qcow2_virtual_size(head(url, QCOW2_HEADER_BYTES), url) / GIB)


def _links(index_html: str, pattern: str) -> list[str]:
    """Names in a directory listing (href targets) matching `pattern`, trailing slash removed."""
    names = {href.rstrip("/") for href in re.findall(r'href="([^"?]+)"', index_html)}
    return sorted(name for name in names if re.fullmatch(pattern, name))


def _newest(base: str, fetch: Fetch, pattern: str, what: str) -> str:
    """The newest name listed at `base` matching `pattern`: the highest numbers in it, compared
    in order (dates, build and release numbers: 9.10 after 9.9)."""
    names = _links(fetch(base), pattern)
    if not names:
        raise BumpError(f"{base}: no {what} listed")
    return max(names, key=lambda name: [int(x) for x in re.findall(r"\d+", name)])


def _current(url: re.Pattern[str], image: Image, what: str) -> re.Match[str]:
    """The parts of `image`'s URL in its publisher's format."""
    current = url.fullmatch(image.url)
    if not current:
        raise BumpError(f"{image.url}: not {what} URL")
    return current


# ---- Debian -------------------------------------------------------------------------------------

DEBIAN_URL = re.compile(r"https://cloud\.debian\.org/images/cloud/(?P<codename>[a-z]+)/(?P<build>\d{8}-\d{4})/"
                        r"debian-(?P<release>\d+)-genericcloud-amd64-(?P=build)\.qcow2")


def newest_debian(image: Image, fetch: Fetch) -> Build:
    current = _current(DEBIAN_URL, image, "a Debian genericcloud image")
    base = f"https://cloud.debian.org/images/cloud/{current['codename']}/"
    build = _newest(base, fetch, r"\d{8}-\d{4}", "dated builds")
    file_name = f"debian-{current['release']}-genericcloud-amd64-{build}.qcow2"
    sums = fetch(f"{base}{build}/SHA512SUMS")
    return Build(f"{base}{build}/{file_name}", file_name, _gnu_sum(sums, file_name, 128))


def _gnu_sum(sums: str, file_name: str, length: int) -> str:
    """`<hex>  <file>` or `<hex> *<file>` (coreutils' text and binary modes)."""
    for line in sums.splitlines():
        match = re.fullmatch(rf"([0-9a-f]{{{length}}}) [ *]{re.escape(file_name)}", line.strip())
        if match:
            return match.group(1)
    raise BumpError(f"{file_name}: not listed in the sums file")


# ---- Rocky Linux --------------------------------------------------------------------------------

ROCKY_URL = re.compile(r"https://dl\.rockylinux\.org/(?:pub|vault)/rocky/(?P<minor>(?P<major>\d+)\.\d+)/images/x86_64/"
                       r"Rocky-(?P=major)-GenericCloud-Base-(?P=minor)-\d{8}\.\d+\.x86_64\.qcow2")


def newest_rocky(image: Image, fetch: Fetch) -> Build:
    major = _current(ROCKY_URL, image, "a Rocky GenericCloud Base image")["major"]
    base = f"https://dl.rockylinux.org/pub/rocky/{major}/images/x86_64/"
    pattern = rf"Rocky-{major}-GenericCloud-Base-({major}\.\d+)-(\d{{8}})\.(\d+)\.x86_64\.qcow2"
    file_name = _newest(base, fetch, pattern, "GenericCloud Base images")
    minor = re.fullmatch(pattern, file_name).group(1)
    sums = fetch(f"{base}CHECKSUM")
    match = re.search(rf"^SHA256 \({re.escape(file_name)}\) = ([0-9a-f]{{64}})$", sums, re.MULTILINE)
    if not match:
        raise BumpError(f"{file_name}: not listed in {base}CHECKSUM")
    # The minor's own directory: the major's link moves on when the next minor ships.
    return Build(f"https://dl.rockylinux.org/pub/rocky/{minor}/images/x86_64/{file_name}", file_name,
                 match.group(1))


# ---- Ubuntu -------------------------------------------------------------------------------------

UBUNTU_URL = re.compile(r"https://cloud-images\.ubuntu\.com/releases/(?P<codename>[a-z]+)/release-\d{8}(?:\.\d+)?/"
                        r"(?P<file>ubuntu-\d{2}\.\d{2}-server-cloudimg-amd64\.img)")


def newest_ubuntu(image: Image, fetch: Fetch) -> Build:
    current = _current(UBUNTU_URL, image, "an Ubuntu server cloud image")
    base = f"https://cloud-images.ubuntu.com/releases/{current['codename']}/"
    release = _newest(base, fetch, r"release-\d{8}(?:\.\d+)?", "releases")
    file_name = current["file"]
    sums = fetch(f"{base}{release}/SHA256SUMS")
    checksum = _gnu_sum(sums, file_name, 64)
    if image.source_file_name:
        # Stored as <name>-<release date>.qcow2: Proxmox imports .qcow2 names only (catalog.Image).
        stored = f"{file_name.removesuffix('.img')}-{release.removeprefix('release-')}.qcow2"
        return Build(f"{base}{release}/{file_name}", stored, checksum, source_file_name=file_name)
    return Build(f"{base}{release}/{file_name}", file_name, checksum)


# ---- Proxmox appliance templates ----------------------------------------------------------------

PROXMOX_URL = re.compile(r"https?://download\.proxmox\.com/images/system/"
                         r"(?P<package>[a-z0-9]+-\d+(?:\.\d+)?-standard)_[0-9][^_/]*_amd64\.tar\.(?:zst|xz|gz)")
APLINFO = "http://download.proxmox.com/images/aplinfo-pve-8.dat"


def newest_proxmox_template(image: Image, fetch: Fetch) -> Build:
    current = _current(PROXMOX_URL, image, "a Proxmox appliance template")
    candidates = []
    for stanza in fetch(APLINFO).split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z0-9-]+): ?(.*)$", stanza, re.MULTILINE))
        if fields.get("Package") == current["package"] and "sha512sum" in fields:
            version = [int(x) for x in re.findall(r"\d+", fields.get("Version", ""))]
            candidates.append((version, fields["Location"], fields["sha512sum"]))
    if not candidates:
        raise BumpError(f"{APLINFO}: no {current['package']} listed")
    _, location, checksum = max(candidates)
    file_name = location.rsplit("/", 1)[-1]
    return Build(f"http://download.proxmox.com/images/{location}", file_name, checksum)


@dataclass(frozen=True)
class Publisher:
    """A publisher's URL format, how to find its newest build, and the checksum it lists."""

    name: str
    url: re.Pattern[str]
    newest: Callable[[Image, Fetch], Build]
    checksum_algorithm: str


PUBLISHERS = (
    Publisher("Debian cloud images", DEBIAN_URL, newest_debian, "sha512"),
    Publisher("Rocky Linux", ROCKY_URL, newest_rocky, "sha256"),
    Publisher("Ubuntu cloud images", UBUNTU_URL, newest_ubuntu, "sha256"),
    Publisher("Proxmox appliance templates", PROXMOX_URL, newest_proxmox_template, "sha512"),
)


def publisher_of(image: Image) -> Publisher:
    for publisher in PUBLISHERS:
        if publisher.url.fullmatch(image.url):
            return publisher
    raise BumpError(f"{image.url}: no known publisher has this URL format")


# ---- rewriting the catalog ----------------------------------------------------------------------

def _literal(value: str, indent: str, first: int = 0) -> str:
    """A Python string literal as the catalog writes them: a URL that would pass 110 columns split
    after its last path separator, a checksum split every 64 hex digits."""
    if "/" in value:
        head, _, tail = value.rpartition("/")
        pieces = [head + "/", tail] if first + len(value) + 3 > 110 else [value]
    else:
        pieces = [value[i:i + 64] for i in range(0, len(value), 64)]
    return f"\n{indent}".join(f'"{piece}"' for piece in pieces)


def rewrite_image(source: str, old: Image, new: Build) -> str:
    """`source` with the url, file_name and checksum arguments of the entry of `old` (found by its
    file name; the catalog's image constructors take them in that order) set to `new`."""
    if f'file_name="{old.file_name}"' not in source:
        raise BumpError(f"{old.file_name}: not found in {CATALOG_FILE.name}")
    block = re.compile(r'(?P<indent>[ \t]*)url=(?:"[^"]*"\s*)+,\s*file_name="' + re.escape(old.file_name)
                       + r'",\s*checksum=(?:"[^"]*"\s*)+,')
    match = block.search(source)
    if not match:
        raise BumpError(f"{old.file_name}: its image does not have url, file_name, checksum in order")
    indent = match["indent"]
    cont = indent + "    "
    text = (f"url={_literal(new.url, cont, len(indent) + 4)},\n"
            f"{indent}file_name=\"{new.file_name}\",\n"
            f"{indent}checksum={_literal(new.checksum, cont + '     ')},")
    return source[:match.start('indent') + len(indent)] + text + source[match.end():]


def rewrite_virtual_size(source: str, image: Build, size_gb: int) -> str:
    """`source` with the entry of `image.file_name` given `virtual_size_gb=size_gb` (an argument of
    the catalog's image constructors, after the checksum; replaced when the entry already has one)."""
    block = re.compile(r'(?P<indent>[ \t]*)url=(?:"[^"]*"\s*)+,\s*file_name="' + re.escape(image.file_name)
                       + r'",\s*checksum=(?:"[^"]*"\s*)+,(?P<rest>(?:\s*source_file_name="[^"]*",)?)'
                       + r'(?P<size>\s*virtual_size_gb=\d+,)?')
    match = block.search(source)
    if not match:
        raise BumpError(f"{image.file_name}: its image does not have url, file_name, checksum in order")
    start, end = (match.start("size"), match.end("size")) if match["size"] else (match.end("rest"),) * 2
    return source[:start] + f"\n{match['indent']}virtual_size_gb={size_gb}," + source[end:]


def bump(dist_key: str, fetch: Fetch = fetch_text, catalog_file: Path = CATALOG_FILE,
         head: FetchHead = fetch_head) -> list[str]:
    """Rewrite `dist_key`'s images to their newest builds; returns one line per image. The cloud
    image's virtual size is read from the new build's qcow2 header; nothing is written unless every
    image of the entry was found and measured."""
    if dist_key not in CATALOG:
        raise BumpError(f"{dist_key}: not in the catalog ({', '.join(sorted(CATALOG))})")
    dist = CATALOG[dist_key]
    source, lines = catalog_file.read_text(), []
    for image in (dist.image, dist.lxc_template):
        if image is None:
            continue
        new = publisher_of(image).newest(image, fetch)
        # A disk image's size from its header; an LXC template is a tarball: its size stays.
        size_gb = virtual_size_gb(new.url, head) if image is dist.image else image.virtual_size_gb
        # The catalog's own checks, with the measured size.
        Image(new.url, new.file_name, new.checksum, image.checksum_algorithm, size_gb,
              source_file_name=new.source_file_name)
        same = new.file_name == image.file_name and new.checksum == image.checksum and new.url == image.url
        if not same:
            source = rewrite_image(source, image, new)
        if size_gb != image.virtual_size_gb:
            source = rewrite_virtual_size(source, new, size_gb)
        size_note = (f" (virtual size {image.virtual_size_gb} -> {size_gb} GiB)" if size_gb != image.virtual_size_gb
                     else f" ({size_gb} GiB)" if image is dist.image else "")
        lines.append(f"{dist_key}: {image.file_name} is the newest build{size_note}" if same
                     else f"{dist_key}: {image.file_name} -> {new.file_name}{size_note}")
    catalog_file.write_text(source)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bump-image", description=__doc__.splitlines()[0])
    parser.add_argument("--dist", required=True, help="catalog key, e.g. debian12 or rocky9")
    args = parser.parse_args(argv)
    try:
        # The module's fetchers and catalog, looked up now (the tests point them elsewhere).
        for line in bump(args.dist, fetch=fetch_text, catalog_file=CATALOG_FILE, head=fetch_head):
            print(line)
    except (BumpError, OSError) as error:
        print(f"bump-image: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
