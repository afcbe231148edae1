"""Every k3s version a committed stack pins has its installer checksum (components/k3s/installers.py).

Renovate bumps the version in Pulumi.<stack>.yaml (.github/renovate.json5); the nodes run k3s's
install.sh only with the sha256 pinned for that version, so the bump is not done until the row is
added: this test (and the config validation) fails on a pinned version without one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components.k3s import installers
from pins import registry

ROOT = Path(__file__).resolve().parents[1]


def test_every_committed_k3s_version_has_a_pinned_installer():
    pins = list(registry.k3s_pins())
    assert {pin.where for pin in pins} == {"Pulumi.mirkwood.yaml", "Pulumi.lothlorien.yaml"}
    missing = [f"{pin.where}: {pin.version} {installers.problem(pin.version)}" for pin in pins
               if installers.problem(pin.version)]
    assert missing == []


def test_a_stack_pinning_a_version_without_an_installer_row_fails(tmp_path: Path):
    """What a Renovate bump without the row looks like: the registry check above names it."""
    text = (ROOT / "Pulumi.mirkwood.yaml").read_text()
    bumped = re.sub(r"version: v1\.31\.4\+k3s1", "version: v1.31.99+k3s1", text)
    assert bumped != text
    (tmp_path / "Pulumi.mirkwood.yaml").write_text(bumped)
    (pin,) = registry.k3s_pins(tmp_path)
    assert pin.version == "v1.31.99+k3s1"
    assert installers.problem(pin.version) == (
        "has no pinned installer checksum: add a row for v1.31.99+k3s1 to components/k3s/installers.py "
        "(the sha256 of install.sh at a reviewed k3s-io/k3s commit)")


def test_rows_are_full_commits_and_sha256s_and_the_url_names_the_commit():
    assert installers.INSTALLERS
    for version, installer in installers.INSTALLERS.items():
        assert re.fullmatch(r"v\d+\.\d+\.\d+(-rc\d+)?\+k3s\d+", version)
        assert installer.url == f"https://raw.githubusercontent.com/k3s-io/k3s/{installer.commit}/install.sh"
    # The row both stacks use: k3s-io/k3s install.sh.sha256sum at that commit (read, not computed here).
    assert installers.INSTALLERS["v1.31.4+k3s1"] == installers.Installer(
        "25ed9f252ac4dbc4ad8686dbfdf3459dd4be0b00", "e0fbc48a74045ae279bde25bf6ac5502b256017d4d648b53750050993d4b71e6")
    for bad in (("v1.31.4+k3s1", "e0fbc48a" * 8), ("25ed9f252ac4dbc4ad8686dbfdf3459dd4be0b00", "E0" * 32)):
        with pytest.raises(ValueError):
            installers.Installer(*bad)


def test_renovate_tells_the_k3s_pull_request_to_add_the_row():
    text = (ROOT / ".github/renovate.json5").read_text()
    rule = text[text.index('matchPackageNames: ["k3s-io/k3s"]'):]
    rule = rule[:rule.index("}")]
    assert "prBodyNotes" in rule and "components/k3s/installers.py" in rule


def test_committed_stacks_validate_with_their_installer(tmp_path: Path):
    for name in ("Pulumi.mirkwood.yaml", "Pulumi.lothlorien.yaml"):
        config = yaml.safe_load((ROOT / name).read_text())["config"]
        clusters = config["homelab:k3s"]["clusters"]
        assert clusters and all(installers.for_version(c["version"]).sha256 for c in clusters)
