"""The install script refuses a k3s it did not pin: when the installer leaves another version than
the pinned one, the script fails with the message that names both, and does not report ready."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_k3s_scripts import NEW, OLD, agent_script, root, run, server_script  # noqa: F401 - root is a fixture

MESSAGE = f"installed version is {NEW}, expected {OLD}"


@pytest.mark.system
@pytest.mark.parametrize("script", [server_script, agent_script], ids=["server", "agent"])
def test_a_different_installed_version_fails_the_install_with_the_message(root: Path, script) -> None:
    (root / "var/lib/k3s-standin-installs").write_text(NEW + "\n")
    done = run(root, script())
    assert done.returncode != 0, done.stdout
    assert MESSAGE in done.stderr, done.stderr
    # The stand-in did install: only the script's own check stands between it and success.
    assert (root / "usr/local/bin/k3s").exists()
