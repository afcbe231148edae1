"""A throwaway Debian root filesystem (bookworm, or trixie) to run day-2 scripts in for real.

`make_rootfs(tmp_path, suite="bookworm")` unpacks a cached `debootstrap --variant=minbase <suite>`
tarball (built once per suite from the machine's configured Debian mirror, kept under
~/.cache/homelab/) into `tmp_path/rootfs`. `SUITES` are the suites the tests run in: debootstrap
ships a script for each (/usr/share/debootstrap/scripts/trixie on bookworm's debootstrap 1.0.128),
and the archive serves every suite from the same mirror, so a machine configured for bookworm
builds trixie from its own mirror too.
`run_in_rootfs(root, script, stdin=None, env=None)` runs a script inside it with `chroot`, in fresh
mount/UTS/IPC/PID namespaces so that setting a hostname or mounting /proc never touches the machine.
Downloaded .deb files are shared between runs through a bind-mounted cache directory.

Needs root, `debootstrap`, `chroot` and `unshare`; without them the calling test is skipped (or fails
under CI=true, see tests/tools.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SUITE = "bookworm"
SUITES = ("bookworm", "trixie")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
CACHE_DIR = Path(os.environ.get("HOMELAB_CACHE", Path.home() / ".cache" / "homelab"))
APT_SOURCES = Path("/etc/apt")
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
CACHE_VERSION = "v2"  # bump when the way the tarball is built changes

# Keeps services from starting inside the chroot when a package is installed (Debian policy-rc.d).
_POLICY_RC_D = "#!/bin/sh\nexit 101\n"


def _require(tool: str) -> None:
    from tests.tools import require_tool

    require_tool(tool)


def _require_root() -> None:
    if os.geteuid() != 0:
        reason = "debootstrap and chroot need root"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (required under CI=true)")
        pytest.skip(reason)


def debian_mirror(apt_dir: Path = APT_SOURCES, suite: str = SUITE) -> str:
    """The Debian archive URI this machine's apt is configured with (deb822 or one-line sources).

    The URI listed for `suite` wins; else the one listed for any Debian suite (one archive serves
    them all: a bookworm machine's mirror serves trixie); else deb.debian.org."""
    candidates: list[str] = []
    others: list[str] = []
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.sources")),
             *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text()
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"(?m)^([A-Za-z-]+):\s*(.*)$", stanza))
                if fields.get("Enabled", "yes").lower() == "no" or "deb" not in fields.get("Types", "").split():
                    continue
                suites = fields.get("Suites", "").split()
                uris = fields.get("URIs", "").split()
                candidates += [uri for uri in uris if suite in suites]
                others += [uri for uri in uris if any(s in SUITES for s in suites)]
        else:
            for line in text.splitlines():
                match = re.match(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
                if match and match.group(2) == suite:
                    candidates.append(match.group(1))
                elif match and match.group(2) in SUITES:
                    others.append(match.group(1))
    for uri in [*candidates, *others]:
        if not uri.rstrip("/").endswith("-security"):
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def cached_tarball(suite: str = SUITE) -> Path:
    """Build (once per suite, under a lock) and return the cached minbase tarball."""
    if suite not in SUITES:
        raise ValueError(f"suite {suite!r} is not one of {SUITES}")
    _require_root()
    for tool in ("debootstrap", "chroot", "unshare"):
        _require(tool)
    if not Path("/usr/share/debootstrap/scripts", suite).exists():
        reason = f"this debootstrap has no script for {suite} (/usr/share/debootstrap/scripts/{suite})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (required under CI=true)")
        pytest.skip(reason)
    mirror = debian_mirror(suite=suite)
    key = hashlib.sha256(mirror.encode()).hexdigest()[:10]
    tarball = CACHE_DIR / f"debian-{suite}-minbase-{_arch()}-{key}-{CACHE_VERSION}.tar"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".rootfs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.exists():
            return tarball
        with tempfile.TemporaryDirectory(dir=CACHE_DIR) as work:
            target = Path(work) / "root"
            # Verify the archive with Debian's keyring (on Ubuntu it is the debian-archive-keyring package).
            keyring = [f"--keyring={DEBIAN_KEYRING}"] if Path(DEBIAN_KEYRING).exists() else []
            result = subprocess.run(
                ["debootstrap", "--variant=minbase", f"--arch={_arch()}", *keyring, suite, str(target), mirror],
                capture_output=True, text=True, check=False,
            )
            if result.returncode != 0:
                pytest.fail(f"debootstrap from {mirror} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
            for deb in (target / "var/cache/apt/archives").glob("*.deb"):
                deb.unlink()  # debootstrap's downloads: only the unpacked system is kept
            partial = Path(work) / "rootfs.tar"
            subprocess.run(["tar", "--numeric-owner", "-C", str(target), "-cf", str(partial), "."], check=True)
            partial.rename(tarball)
    return tarball


def make_rootfs(tmp_path: Path, suite: str = SUITE) -> Path:
    """A fresh copy of the cached root filesystem of `suite` under tmp_path, ready for run_in_rootfs."""
    tarball = cached_tarball(suite)
    root = tmp_path / "rootfs"
    root.mkdir()
    subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-xf", str(tarball)], check=True)
    shutil.copyfile("/etc/resolv.conf", root / "etc" / "resolv.conf")
    # A throwaway system: dpkg need not fsync every file (minutes saved per package install).
    (root / "etc/dpkg/dpkg.cfg.d/homelab-test-unsafe-io").write_text("force-unsafe-io\n")
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.write_text(_POLICY_RC_D)
    policy.chmod(0o755)
    return root


def _suite_of(root: Path) -> str:
    match = re.search(r"(?m)^VERSION_CODENAME=(\w+)$", (root / "etc/os-release").read_text())
    return match.group(1) if match else SUITE


def _apt_archive_cache(suite: str = SUITE) -> Path:
    """.deb files shared between runs, one directory per suite: apt locks the directory while it
    downloads, and a run of one suite should not wait for (or trip over) a run of another."""
    archives = CACHE_DIR / ("apt-archives" if suite == SUITE else f"apt-archives-{suite}")
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    return archives


@contextlib.contextmanager
def _private_archives(shared: Path) -> Iterator[Path]:
    """A run's own .deb directory, hard-linked from the shared cache and linked back after the run:
    apt locks its archives directory and fails at once when another run (another test process on
    the machine) holds it, so concurrent runs must not share one."""
    private = Path(tempfile.mkdtemp(prefix=".run-", dir=shared.parent))
    try:
        (private / "partial").mkdir()
        for deb in shared.glob("*.deb"):
            with contextlib.suppress(FileExistsError, FileNotFoundError):
                os.link(deb, private / deb.name)
        yield private
    finally:
        for deb in private.glob("*.deb"):
            with contextlib.suppress(FileExistsError, FileNotFoundError):
                os.link(deb, shared / deb.name)
        shutil.rmtree(private, ignore_errors=True)


def run_in_rootfs(
    root: Path,
    script_path_or_text: Path | str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a script (a file or its text) with bash inside the root filesystem as root.

    The chroot gets its own /proc, the machine's /dev and the shared .deb cache (through a private
    copy of hard links, see _private_archives), all inside a private mount namespace (gone when the script ends), and its own hostname namespace.
    """
    if isinstance(script_path_or_text, Path):
        text = script_path_or_text.read_text()
    else:
        text = script_path_or_text
    script = root / "tmp" / "homelab-test-script.sh"
    script.write_text(text)
    script.chmod(0o755)
    setup = (
        'set -e; r="$1"; a="$2"; shift 2; '
        'mount -t proc proc "$r/proc"; '
        'mount --rbind /dev "$r/dev"; '
        'mount --bind "$a" "$r/var/cache/apt/archives"; '
        'exec chroot "$r" "$@"'
    )
    environment = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        **(env or {}),
    }
    with _private_archives(_apt_archive_cache(_suite_of(root))) as archives:
        return subprocess.run(
            ["unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--propagation", "private",
             "sh", "-c", setup, "rootfs-setup", str(root), str(archives),
             "/bin/bash", "/tmp/homelab-test-script.sh"],
            input=stdin, capture_output=True, text=True, env=environment, check=False, timeout=900,
        )
