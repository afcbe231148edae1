"""The k3s install script each pinned k3s version is installed with: a file of k3s-io/k3s at a fixed
commit, checked against its sha256 on the node before it runs (components/k3s/scripts/install.sh.j2).

Why a commit of k3s's default branch and not the release tag: the maintainers serve the installer
from the default branch only (get.k3s.io; k3s-io/k3s#8447: "the install script is only served off
master", so install.sh.sha256sum exists there and was never back-ported), and one installer installs
any release through INSTALL_K3S_VERSION. The release tag's own install.sh could not be read here
(the k3s repository's snapshot exceeds this workplace's size limit).

Where each checksum comes from: `install.sh.sha256sum` of k3s-io/k3s at that commit, which k3s's CI
checks against install.sh at the same commit (`sha256sum -c install.sh.sha256sum` in
k3s-io/k3s scripts/validate). Never a value computed from anything else, never invented.

Renovate bumps the k3s version in the stack files; the new version needs its row here (the config
refuses a version without one, tests/test_k3s_installers.py fails on a stack pinning one). To add
a row: take the installer commit you reviewed, `git show <commit>:install.sh | sha256sum`, compare
with `git show <commit>:install.sh.sha256sum`, and add `"<version>": Installer("<commit>", "<sha256>")`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REPOSITORY = "k3s-io/k3s"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Installer:
    """install.sh of k3s-io/k3s at `commit` and its sha256."""

    commit: str
    sha256: str

    def __post_init__(self) -> None:
        if not _COMMIT.match(self.commit):
            raise ValueError(f"installer commit {self.commit!r} is not a full 40-digit git commit")
        if not _SHA256.match(self.sha256):
            raise ValueError("installer sha256 must be 64 lowercase hex digits")

    @property
    def url(self) -> str:
        return f"https://raw.githubusercontent.com/{REPOSITORY}/{self.commit}/install.sh"


# k3s-io/k3s install.sh.sha256sum at 25ed9f252ac4dbc4ad8686dbfdf3459dd4be0b00:
# "e0fbc48a74045ae279bde25bf6ac5502b256017d4d648b53750050993d4b71e6  install.sh".
_MAIN_25ED9F2 = Installer("25ed9f252ac4dbc4ad8686dbfdf3459dd4be0b00",
                          "e0fbc48a74045ae279bde25bf6ac5502b256017d4d648b53750050993d4b71e6")

#: k3s version -> the installer it is installed with. v1.31.4+k3s1 is what both committed stacks pin;
#: v1.31.5+k3s1 and v1.32.1+k3s1 are the next patch and minor (the day-2 and upgrade cases).
INSTALLERS: dict[str, Installer] = {
    "v1.31.4+k3s1": _MAIN_25ED9F2,
    "v1.31.5+k3s1": _MAIN_25ED9F2,
    "v1.32.1+k3s1": _MAIN_25ED9F2,
}


def problem(version: str) -> str | None:
    """Why `version` cannot be installed with a verified installer, or None."""
    if version in INSTALLERS:
        return None
    return (f"has no pinned installer checksum: add a row for {version} to components/k3s/installers.py "
            f"(the sha256 of install.sh at a reviewed k3s-io/k3s commit)")


def for_version(version: str) -> Installer:
    why = problem(version)
    if why:
        raise ValueError(f"k3s {version} {why}")
    return INSTALLERS[version]
