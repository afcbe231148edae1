"""A dry run of a host script, without root: the script's absolute paths moved under a temporary
root, and the system commands it calls (package manager, user tools, visudo, sshd, systemctl, curl,
cloud-init...) replaced by stand-ins that record each call, in order, in one log.

The root-filesystem tests (tests/rootfs.py) run the scripts for real but need root; this runs in a
plain `make test` and shows what the script asks of the host and in which order: the sudoers file
checked by visudo before it is moved into place, `sshd -t` before the reload, the pinned version
checked after the installer. The stand-ins keep just enough state (users, groups, installed
packages) for a second run to see the first one's work, so idempotency shows too.

The script is moved the way tests/mosquitto_broker.py moves a config: each rewrite must apply, or
the test fails (a script that changed its paths is not silently run against the real machine).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

# Folders of the host a script may touch; every absolute path below them moves under the dry root.
HOST_PREFIXES = ("etc", "run", "root", "home", "boot", "proc", "usr/share/zoneinfo", "usr/local/bin", "var/lib",
                 "var/log")
_PATH = re.compile(r"(?<=[\s\"'=(>])/(?=(?:%s)(?:[/\s\"';)]|$))" % "|".join(re.escape(p) for p in HOST_PREFIXES), re.M)

# name -> bash body run after the call is logged ($DRY_ROOT, $DRY_STATE are set; "$@" the arguments).
STANDINS = {
    "apt-get": 'if [ "${1:-}" = install ]; then for a in "$@"; do case $a in -*|install) ;; *) echo "$a" >>"$DRY_STATE/packages";; esac; done; fi',
    "dnf": 'if [ "${3:-}" = install ]; then shift 3; printf "%s\\n" "$@" >>"$DRY_STATE/packages"; fi',
    "dpkg-query": 'name=${!#}; grep -qx "$name" "$DRY_STATE/packages" 2>/dev/null || exit 1; printf "install ok installed"',
    "rpm": 'grep -qx "${!#}" "$DRY_STATE/packages" 2>/dev/null',
    "id": ('user=${!#}; grep -q "^$user:" "$DRY_ROOT/etc/passwd" || { echo "id: $user: no such user" >&2; exit 1; }\n'
           'case $1 in -u) echo 1000 ;; -nG) awk -F: -v u="$user" \'BEGIN { printf "%s", u } '
           '{ n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) printf " %s", $1 } END { print "" }\' '
           '"$DRY_ROOT/etc/group" ;; esac'),
    "getent": 'grep "^${2}:" "$DRY_ROOT/etc/$1"',
    "useradd": ('shell=/bin/sh group=""; while [ $# -gt 1 ]; do case $1 in --shell) shell=$2; shift;; --groups) group=$2; shift;; esac; shift; done\n'
                'echo "$1:x:1000:1000::$DRY_ROOT/home/$1:$shell" >>"$DRY_ROOT/etc/passwd"; mkdir -p "$DRY_ROOT/home/$1"\n'
                'awk -F: -v OFS=: -v g="$group" -v u="$1" \'$1 == g { $4 = ($4 == "" ? u : $4 "," u) } { print }\' '
                '"$DRY_ROOT/etc/group" >"$DRY_STATE/group" && "$DRY_REAL/mv" "$DRY_STATE/group" "$DRY_ROOT/etc/group"'),
    "usermod": 'true',
    "install": 'args=(); while [ $# -gt 0 ]; do case $1 in -o|-g) shift;; *) args+=("$1");; esac; shift; done; exec "$DRY_REAL/install" "${args[@]}"',
    "chown": 'true',
    "mv": 'exec "$DRY_REAL/mv" "$@"',
    "visudo": '[ -z "${DRY_VISUDO_REJECTS:-}" ]',
    "sshd": '[ -z "${DRY_SSHD_REJECTS:-}" ]',
    "systemctl": 'true',
    "hostnamectl": 'true',
    "hostname": 'true',
    "sysctl": 'true',
    "shutdown": 'true',
    "cloud-init": 'true',
    "curl": 'while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done; cp "$DRY_STATE/download" "$out"',
    "sh": 'exec "$DRY_REAL/sh" "$@"',
}


class DryHost:
    """A temporary root and a folder of stand-ins; `run` a relocated script against them."""

    def __init__(self, tmp: Path):
        self.root, self.bin, self.state, self.log = tmp / "root", tmp / "bin", tmp / "state", tmp / "calls.log"
        for folder in (self.root, self.bin, self.state):
            folder.mkdir(parents=True)
        for name, body in STANDINS.items():
            stub = self.bin / name
            stub.write_text(f'#!/usr/bin/env bash\nset -u\nprintf "%s\\n" "{name} $*" >>"$DRY_LOG"\n{body}\n')
            stub.chmod(0o755)
        # the real tools the stand-ins end in, found before the stand-ins shadow them
        self.real = Path(shutil.which("mv")).parent
        assert (self.real / "install").exists() and (self.real / "sh").exists(), self.real

    def file(self, path: str, text: str = "", mode: int = 0o644) -> Path:
        """Put `text` at the host path `path` (absolute) under the dry root."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)
        return target

    def relocate(self, script: str, replacements: dict[str, str] | None = None) -> str:
        """`script` with every host path under the dry root, and each of `replacements` (present exactly once)."""
        for old, new in (replacements or {}).items():
            assert script.count(old) == 1, f"the script lacks {old!r}"
            script = script.replace(old, new)
        moved = _PATH.sub(str(self.root) + "/", script)
        assert moved != script, "no host path in the script"
        return moved

    def run(self, script: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """bash SCRIPT with the stand-ins first on PATH (and the real tools they end in after them)."""
        path = self.state / "script.sh"
        path.write_text(script)
        environment = {"PATH": f"{self.bin}:{self.real}:/usr/bin:/bin", "HOME": str(self.root / "root"),
                       "LC_ALL": "C", "DRY_ROOT": str(self.root), "DRY_STATE": str(self.state),
                       "DRY_LOG": str(self.log), "DRY_REAL": str(self.real), **(env or {})}
        return subprocess.run(["bash", str(path)], input=stdin, capture_output=True, text=True, env=environment,
                              timeout=120, check=False)

    def calls(self) -> list[str]:
        """Every recorded call so far, host paths shown as on the host; the log is emptied."""
        if not self.log.exists():
            return []
        lines = self.log.read_text().replace(str(self.root), "").splitlines()
        self.log.unlink()
        return lines


def index_of(calls: list[str], pattern: str, start: int = 0) -> int:
    """The index of the first call from `start` on that matches `pattern` (a regex); the test fails without one."""
    for i in range(start, len(calls)):
        if re.search(pattern, calls[i]):
            return i
    raise AssertionError(f"no call matching {pattern!r} in {calls[start:]}")
