"""Cloud images: every catalog entry has its publisher's formats, and `make bump-image` moves an
entry to the newest build its publisher lists (indexes and sums files in the publishers' formats)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.catalog import CATALOG
from pins import bump_image
from pins.bump_image import Build, BumpError, bump, fetch_head, publisher_of, rewrite_image, virtual_size_gb
from tests.tools import require_tool

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


def test_bump_moves_debian12_image_and_lxc_template_to_the_newest_builds(tmp_path, images):
    catalog = tmp_path / "catalog.py"
    before = bump_image.CATALOG_FILE.read_text()
    catalog.write_text(before)
    lines = bump("debian12", fetch=fake_publishers, catalog_file=catalog, head=images.head)
    after = catalog.read_text()
    assert lines == [f"debian12: {CATALOG['debian12'].image.file_name} -> "
                     f"debian-12-genericcloud-amd64-{NEW_DEBIAN}.qcow2 (2 GiB)",
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


def test_bump_moves_rocky_to_the_newest_minor_in_its_own_directory(tmp_path, images):
    catalog = tmp_path / "catalog.py"
    catalog.write_text(bump_image.CATALOG_FILE.read_text())
    bump("rocky9", fetch=fake_publishers, catalog_file=catalog, head=images.head)
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
        bump("debian12", fetch=no_genericcloud, catalog_file=catalog, head=_no_network)
    assert catalog.read_text() == bump_image.CATALOG_FILE.read_text()


def test_make_bump_image_refuses_an_unknown_distribution_with_exit_2():
    done = subprocess.run([sys.executable, "-m", "pins.bump_image", "--dist", "plan9"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("bump-image: plan9: not in the catalog")
    assert "Traceback" not in done.stderr
    assert "bump-image:" in (ROOT / "Makefile").read_text()


def test_bump_moves_ubuntu_to_the_newest_release_still_stored_under_a_qcow2_name(tmp_path, images):
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
    lines = bump("ubuntu2404", fetch=lambda url: pages[url], catalog_file=catalog, head=images.head)
    assert lines == [
        "ubuntu2404: ubuntu-24.04-server-cloudimg-amd64-20260705.qcow2 -> "
        "ubuntu-24.04-server-cloudimg-amd64-20261112.qcow2 (4 GiB)",
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
        bump(dist, fetch=lambda url: listing if url == index else fake_publishers(url), catalog_file=catalog,
             head=_no_network)
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


# ---- the virtual size, read from a real qcow2 over HTTP ----------------------------------------

class _ImageHandler(BaseHTTPRequestHandler):
    """Serves the files of `server.root`; answers a `Range: bytes=a-b` with 206 and those bytes
    (RFC 9110), unless `server.ignore_range` (then 200 and the whole file, as some mirrors do)."""

    def do_GET(self):  # noqa: N802 - http.server's name
        path = self.server.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        wanted = self.headers.get("Range")
        self.server.requests.append((self.path, wanted))
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", wanted or "")
        first, last = 0, size - 1
        if match and not self.server.ignore_range:
            first, last = int(match[1]), min(int(match[2]), size - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        try:
            with path.open("rb") as image:  # in chunks: the images are sparse files of several GiB
                image.seek(first)
                left = last - first + 1
                while left > 0:
                    chunk = image.read(min(left, 1 << 20))
                    self.wfile.write(chunk)
                    left -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):  # the client read the header and closed
            pass

    def log_message(self, *args):
        pass


class ImageServer:
    """Real qcow2 (and other) files behind a local HTTP server; `head` maps a publisher's URL to
    the file of the same name here and reads it with the bump's own Range request."""

    def __init__(self, root: Path):
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
        self.http.root, self.http.requests, self.http.ignore_range = root, [], False
        self.root = root
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/{name}"

    def head(self, url: str, length: int) -> bytes:
        return fetch_head(self.url(url.rsplit("/", 1)[-1]), length)

    @property
    def requests(self) -> list:
        return self.http.requests


def _qemu_img(root: Path, name: str, size: str, fmt: str = "qcow2", *options: str) -> Path:
    path = root / name
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, *options, str(path), size], check=True, timeout=60)
    return path


def _qemu_virtual_size(path: Path) -> int:
    import json
    info = subprocess.run(["qemu-img", "info", "--output=json", str(path)], capture_output=True, text=True,
                          check=True, timeout=60)
    return json.loads(info.stdout)["virtual-size"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    require_tool("qemu-img")
    root = tmp_path_factory.mktemp("images")
    # The sizes the publishers' builds have: Debian genericcloud 2 GiB, Rocky GenericCloud 10 GiB,
    # Ubuntu noble 3.5 GiB (qcow2 under an .img name); qcow2 version 3 as qemu-img writes by default.
    _qemu_img(root, f"debian-12-genericcloud-amd64-{NEW_DEBIAN}.qcow2", "2G")
    _qemu_img(root, NEW_ROCKY, "10G")
    _qemu_img(root, "ubuntu-24.04-server-cloudimg-amd64.img", "3584M")
    server = ImageServer(root)
    yield server
    server.http.shutdown()


def _no_network(url: str, length: int) -> bytes:
    raise AssertionError(f"no image should be read here: {url}")


@pytest.mark.parametrize(("size", "options", "expected_gb"), [
    ("2G", (), 2),
    ("3584M", (), 4),                        # 3.5 GiB: the smallest whole-GiB disk is 4
    ("10G", ("-o", "compat=0.10"), 10),      # a version 2 header (exactly 72 bytes)
    ("2147484160", (), 3),                   # 2 GiB + 512 bytes still needs a third GiB
])
def test_the_virtual_size_comes_from_a_real_qcow2_header_over_one_range_request(images, size, options, expected_gb):
    name = f"sized-{size}-{len(options)}.qcow2"
    path = _qemu_img(images.root, name, size, "qcow2", *options)
    before = len(images.requests)
    assert virtual_size_gb(images.url(name), fetch_head) == expected_gb
    # What qemu-img itself reports, rounded up to GiB, and only the header was asked for.
    assert expected_gb == -(-_qemu_virtual_size(path) // 2**30)
    assert images.requests[before:] == [(f"/{name}", "bytes=0-71")]


def test_a_mirror_that_ignores_range_still_gives_only_the_header(images):
    name = "ignored-range.qcow2"
    _qemu_img(images.root, name, "10G")
    images.http.ignore_range = True
    try:
        header = fetch_head(images.url(name), 72)
    finally:
        images.http.ignore_range = False
    assert len(header) == 72 and header[:4] == b"QFI\xfb"
    assert virtual_size_gb(images.url(name), lambda url, n: header) == 10


def test_a_changed_virtual_size_is_written_to_the_bumped_entry_only(tmp_path, images):
    catalog = tmp_path / "catalog.py"
    catalog.write_text(bump_image.CATALOG_FILE.read_text())
    grown = f"grown/debian-12-genericcloud-amd64-{NEW_DEBIAN}.qcow2"
    (images.root / "grown").mkdir(exist_ok=True)
    _qemu_img(images.root, grown, "3G")
    lines = bump("debian12", fetch=fake_publishers, catalog_file=catalog,
                 head=lambda url, n: fetch_head(images.url(grown), n))
    assert lines[0].endswith(f"-> debian-12-genericcloud-amd64-{NEW_DEBIAN}.qcow2 (virtual size 2 -> 3 GiB)")
    import runpy
    bumped = runpy.run_path(str(catalog))["CATALOG"]
    assert bumped["debian12"].image.virtual_size_gb == 3
    # debian13 shares the named constant: it keeps its own size, and so does the LXC template.
    assert bumped["debian13"].image.virtual_size_gb == CATALOG["debian13"].image.virtual_size_gb == 2
    assert bumped["debian12"].lxc_template.virtual_size_gb == CATALOG["debian12"].lxc_template.virtual_size_gb


@pytest.mark.parametrize(("kind", "expected"), [
    ("raw", r"not a qcow2 image \(it starts with b'\\x00\\x00\\x00\\x00'.*qemu-img info"),
    ("vmdk", r"not a qcow2 image \(it starts with b'KDMV'"),
    ("truncated", r"only 40 bytes came back, a qcow2 header has 72"),
])
def test_an_image_without_a_qcow2_header_is_refused_with_one_line_and_nothing_written(
        tmp_path, images, monkeypatch, capsys, kind, expected):
    name = f"{kind}/debian-12-genericcloud-amd64-{NEW_DEBIAN}.qcow2"
    (images.root / kind).mkdir(exist_ok=True)
    if kind == "truncated":
        full = _qemu_img(images.root, f"{kind}-full.qcow2", "2G")
        (images.root / name).write_bytes(full.read_bytes()[:40])
    else:
        _qemu_img(images.root, name, "64M", kind)
    catalog = tmp_path / "catalog.py"
    catalog.write_text(bump_image.CATALOG_FILE.read_text())
    # Through the command itself: its fetchers pointed at the test's publishers and image server.
    monkeypatch.setattr(bump_image, "CATALOG_FILE", catalog)
    monkeypatch.setattr(bump_image, "fetch_text", fake_publishers)
    monkeypatch.setattr(bump_image, "fetch_head", lambda url, n: fetch_head(images.url(name), n))
    assert bump_image.main(["--dist", "debian12"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("bump-image: https://cloud.debian.org/"), err
    assert re.search(expected, err), err
    assert "Traceback" not in err
    assert catalog.read_text() == (ROOT / "components" / "catalog.py").read_text()


def test_a_measured_size_is_written_once_after_the_checksum_and_replaced_next_time(tmp_path):
    source = bump_image.CATALOG_FILE.read_text()
    ubuntu = CATALOG["ubuntu2404"].image
    build = Build(ubuntu.url, ubuntu.file_name, ubuntu.checksum, ubuntu.source_file_name)
    once = bump_image.rewrite_virtual_size(source, build, 5)
    twice = bump_image.rewrite_virtual_size(once, build, 6)
    assert once.count("virtual_size_gb=5,") == 1 and "virtual_size_gb=5" not in twice
    assert twice.count("virtual_size_gb=6,") == 1
    assert len(twice.splitlines()) == len(source.splitlines()) + 1
    import runpy
    (tmp_path / "catalog.py").write_text(twice)
    catalog = runpy.run_path(str(tmp_path / "catalog.py"))["CATALOG"]
    assert catalog["ubuntu2404"].image.virtual_size_gb == 6
    assert catalog["ubuntu2404"].image.source_file_name == ubuntu.source_file_name

