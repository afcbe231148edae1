"""A throwaway Debian bookworm root filesystem to run day-2 scripts in for real.

`make_rootfs(tmp_path)` unpacks a cached `debootstrap --variant=minbase bookworm` tarball (built once
from the machine's configured Debian mirror, kept under ~/.cache/homelab/) into `tmp_path/rootfs`.
`run_in_rootfs(root, script, stdin=None, env=None)` runs a script inside it with `chroot`, in fresh
mount/UTS/IPC/PID namespaces so that setting a hostname or mounting /proc never touches the machine.
Downloaded .deb files are shared between runs through a bind-mounted cache directory.

Needs root, `debootstrap`, `chroot` and `unshare`; without them the calling test is skipped (or fails
under CI=true, see tests/tools.py).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

SUITE = "bookworm"
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


def debian_mirror(apt_dir: Path = APT_SOURCES) -> str:
    """The Debian archive URI this machine's apt is configured with (deb822 or one-line sources)."""
    candidates: list[str] = []
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
                candidates += [uri for uri in fields.get("URIs", "").split() if SUITE in suites]
        else:
            for line in text.splitlines():
                match = re.match(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
                if match and match.group(2) == SUITE:
                    candidates.append(match.group(1))
    for uri in candidates:
        if not uri.rstrip("/").endswith("-security"):
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def cached_tarball() -> Path:
    """Build (once, under a lock) and return the cached minbase tarball."""
    _require_root()
    for tool in ("debootstrap", "chroot", "unshare"):
        _require(tool)
    mirror = debian_mirror()
    key = hashlib.sha256(mirror.encode()).hexdigest()[:10]
    tarball = CACHE_DIR / f"debian-{SUITE}-minbase-{_arch()}-{key}-{CACHE_VERSION}.tar"
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
                ["debootstrap", "--variant=minbase", f"--arch={_arch()}", *keyring, SUITE, str(target), mirror],
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


def make_rootfs(tmp_path: Path) -> Path:
    """A fresh copy of the cached bookworm root filesystem under tmp_path, ready for run_in_rootfs."""
    tarball = cached_tarball()
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


def _apt_archive_cache() -> Path:
    archives = CACHE_DIR / "apt-archives"
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    return archives


def run_in_rootfs(
    root: Path,
    script_path_or_text: Path | str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a script (a file or its text) with bash inside the root filesystem as root.

    The chroot gets its own /proc, the machine's /dev and a shared .deb cache, all inside a private
    mount namespace (gone when the script ends), and its own hostname namespace.
    """
    if isinstance(script_path_or_text, Path):
        text = script_path_or_text.read_text()
    else:
        text = script_path_or_text
    script = root / "tmp" / "homelab-test-script.sh"
    script.write_text(text)
    script.chmod(0o755)
    archives = _apt_archive_cache()
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
    return subprocess.run(
        ["unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--propagation", "private",
         "sh", "-c", setup, "rootfs-setup", str(root), str(archives),
         "/bin/bash", "/tmp/homelab-test-script.sh"],
        input=stdin, capture_output=True, text=True, env=environment, check=False, timeout=900,
    )
