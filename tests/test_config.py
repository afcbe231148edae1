"""The config loader: valid stack files load, every invalid fixture gives exactly its expected lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import ENVIRONMENTS, ROOT
from stacks.config import loader, stackfile
from stacks.config.base import looks_secret
from stacks.config.model import needed_secrets
from synth.engine import synth_config

FIXTURES = Path(__file__).parent / "fixtures"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


def _fixture(path: Path) -> tuple[str, dict, set[str], list[str]]:
    """A fixture's stack, entries and secure keys (read as the synth reads a stack file), and its
    expected lines; a file the reader refuses has no entries, its lines are raised by `_validate`."""
    text = path.read_text()
    header = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    stack = next(line.split(": ", 1)[1] for line in header if line.startswith("stack: "))
    expected = [line.split(": ", 1)[1] for line in header if line.startswith("expect: ")]
    try:
        read = stackfile.read(path, name=f"Pulumi.{stack}.yaml")
    except loader.ConfigError as error:
        return stack, {"file-error": error.lines}, set(), expected
    return stack, read.entries, read.secure, expected


def _validate(entries: dict, stack: str, secure: set[str]):
    if "file-error" in entries:
        raise loader.ConfigError(entries["file-error"])
    return loader.validate(entries, stack=stack, secret_keys=secure)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_committed_stack_files_are_valid(env):
    entries, secret_keys, _ = synth_config(env)
    cfg = loader.validate(entries, stack=env, secret_keys=secret_keys)
    assert cfg.environment.name == env
    assert cfg.environment.production is (env == "lothlorien")


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_reports_exactly_its_problems(path):
    stack, entries, secure, expected = _fixture(path)
    assert expected, f"{path.name} has no '# expect:' lines"
    with pytest.raises(loader.ConfigError) as caught:
        _validate(entries, stack, secure)
    assert sorted(caught.value.lines) == sorted(expected)


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_errors_never_show_a_secret_value(path):
    _, entries, secure, _ = _fixture(path)
    with pytest.raises(loader.ConfigError) as caught:
        _validate(entries, "mirkwood", secure)
    message = str(caught.value)
    for canary in ("canary-plain", "canary-private-material"):
        assert canary not in message


def test_synth_on_invalid_config_prints_lines_without_traceback(tmp_path):
    stack_dir = tmp_path / "stacks"
    stack_dir.mkdir()
    shutil.copy(FIXTURES / "invalid" / "overlapping-cidrs.yaml", stack_dir / "Pulumi.mirkwood.yaml")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "synth", "--env", "mirkwood", "--out", str(tmp_path / "build"),
                           "--stack-dir", str(stack_dir)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert "  environment.networks.storage.cidr: overlaps environment.networks.staging.cidr 10.40.0.0/24" in done.stderr
    assert not (tmp_path / "build").exists(), "nothing may be written for an invalid config"


def test_missing_required_secret_names_the_fix(monkeypatch):
    from stacks.config import environment
    from stacks.config.base import SecretSpec

    monkeypatch.setattr(environment, "secrets", lambda cfg: [SecretSpec("proxmoxApiToken", "Proxmox API token")],
                        raising=False)
    entries, _, _ = synth_config("mirkwood")
    entries.pop("homelab:proxmoxApiToken", None)
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood")
    assert ("homelab:proxmoxApiToken: required secret is not set (Proxmox API token); "
            "set it with: pulumi config set --secret proxmoxApiToken <value>") in caught.value.lines


@pytest.mark.parametrize("key,expected", [
    ("proxmoxApiToken", True), ("sshPrivateKey", True), ("grafanaAdminPassword", True), ("tls_key", True),
    ("webhook_secret", True), ("ssh_authorized_keys", False), ("public_key", False), ("token_ref", False),
    ("domain", False), ("networks", False),
])
def test_secret_looking_names(key, expected):
    assert looks_secret(key) is expected


def test_needed_secrets_are_sorted_and_unique():
    entries, secret_keys, _ = synth_config("lothlorien")
    cfg = loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    keys = [spec.key for spec in needed_secrets(cfg)]
    assert keys == sorted(set(keys))


VALID = sorted((FIXTURES / "valid").glob("*.yaml"))


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_fixture_loads(path, tmp_path):
    """Each valid fixture passes as the synth runs it (secrets as stand-ins, the file as written)."""
    stack, _, _, expected = _fixture(path)
    assert not expected
    shutil.copy(path, tmp_path / f"Pulumi.{stack}.yaml")
    entries, secret_keys, _ = synth_config(stack, stack_dir=tmp_path)
    cfg = loader.validate(entries, stack=stack, secret_keys=secret_keys)
    assert cfg.environment.name == stack


def test_a_field_error_does_not_hide_production_conflicts_or_secrets():
    """Point 4: with one wrong type in a VM, the production conflicts and missing secrets still come out."""
    entries = stackfile.read(ROOT / "Pulumi.mirkwood.yaml").entries  # no secret set at all
    entries["homelab:proxmox"]["vms"][0]["cores"] = "many"
    production = dict(synth_config("lothlorien")[0])
    production["homelab:proxmox"] = {**production["homelab:proxmox"], "vmid_range": {"first": 9000, "last": 9999}}
    peer = loader.parsed(production).cfg
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys=set(), peers=[peer])
    lines = caught.value.lines
    assert "proxmox.vms[0].cores: Input should be a valid integer, unable to parse string as an integer (got 'many')" in lines
    assert ("proxmox.vmid_range: overlaps the VMID range 9000-9999 of the production environment lothlorien "
            "(got '7000-9099')") in lines
    assert any(line.startswith("homelab:proxmoxApiToken: required secret is not set") for line in lines)


@pytest.mark.parametrize(("value", "problem"), [
    (7, "is not an IPv4 network in CIDR notation, e.g. 10.30.0.0/24 (got 7)"),
    ("10.40.0.300/24", "is not an IPv4 network in CIDR notation, e.g. 10.30.0.0/24 (got '10.40.0.300/24')"),
    ("10.40.0.1/24", "has host bits set; did you mean 10.40.0.0/24? (got '10.40.0.1/24')"),
])
def test_every_network_field_judges_a_cidr_the_same_way(value, problem):
    # One check (stacks/config/base.py strict_cidr) behind the environment's networks and the
    # sections' CIDR fields: the same value gets the same words wherever it is written.
    fields = {
        "environment.networks.staging.cidr": lambda e: e["homelab:environment"]["networks"]["staging"],
        "k3s.clusters[0].cluster_cidr": lambda e: e["homelab:k3s"]["clusters"][0],
    }
    for path, holder in fields.items():
        entries, secret_keys, _ = synth_config("mirkwood")
        holder(entries)[path.rsplit(".", 1)[1]] = value
        with pytest.raises(loader.ConfigError) as caught:
            loader.validate(entries, stack="mirkwood", secret_keys=secret_keys)
        assert [line for line in caught.value.lines if line.startswith(path + ":")] == [f"{path}: {problem}"]
