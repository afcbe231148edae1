"""The throwaway Debian root filesystem the day-2 scripts are tested in."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.rootfs import SUITES, debian_mirror, make_rootfs, run_in_rootfs


def test_mirror_is_read_from_deb822_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_is_read_from_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("# comment\ndeb [arch=amd64] http://ftp.example/debian bookworm main\n")
    assert debian_mirror(tmp_path) == "http://ftp.example/debian"


@pytest.mark.system
def test_script_runs_inside_bookworm_and_cannot_touch_the_machine(tmp_path: Path) -> None:
    root = make_rootfs(tmp_path)
    before = socket.gethostname()
    result = run_in_rootfs(
        root,
        "set -euo pipefail\n. /etc/os-release\necho \"$VERSION_CODENAME\"\nhostname rootfs-test\ncat\n",
        stdin="from stdin\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["bookworm", "from stdin"]
    assert socket.gethostname() == before


@pytest.mark.system
def test_script_file_and_environment_reach_the_chroot(tmp_path: Path) -> None:
    root = make_rootfs(tmp_path)
    script = tmp_path / "probe.sh"
    script.write_text('#!/bin/bash\nset -euo pipefail\necho "$PROBE $(id -u) $(cat /proc/1/comm)"\n')
    result = run_in_rootfs(root, script, env={"PROBE": "hello"})
    assert result.returncode == 0, result.stderr
    # root inside its own PID namespace: PID 1 is the script's own shell, not the machine's init.
    assert result.stdout == "hello 0 bash\n"


def test_a_machine_configured_for_bookworm_builds_trixie_from_its_own_mirror(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert debian_mirror(tmp_path, suite="trixie") == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text("deb http://trixie.example/debian trixie main\n")
    assert debian_mirror(tmp_path, suite="trixie") == "http://trixie.example/debian"
    assert debian_mirror(tmp_path, suite="bookworm") == "http://mirror.example/debian"


@pytest.mark.system
@pytest.mark.parametrize("suite", SUITES)
def test_each_suite_gets_its_own_release(tmp_path: Path, suite: str) -> None:
    root = make_rootfs(tmp_path, suite)
    result = run_in_rootfs(root, ". /etc/os-release\necho \"$VERSION_CODENAME\"\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{suite}\n"
    assert SUITES == ("bookworm", "trixie")
