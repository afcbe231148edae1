"""Stack files as the user writes them: the synth's answer for broken files, plain credentials and
secrets files (exit 2, one line per problem naming the file, nothing written, no secret shown)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.config import loader, stackfile
from tests.conftest import ROOT

FIXTURES = Path(__file__).parent / "fixtures"


def _synth(stack_dir: Path, env: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synth", "--env", env, "--out", str(out),
                           "--stack-dir", str(stack_dir), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def _stack_dir(tmp_path: Path, text: str, env: str = "mirkwood") -> Path:
    stack_dir = tmp_path / "stacks"
    stack_dir.mkdir(exist_ok=True)
    (stack_dir / f"Pulumi.{env}.yaml").write_text(text)
    return stack_dir


@pytest.mark.parametrize("fixture", ["yaml-syntax-error", "top-level-not-a-mapping", "duplicate-keys"])
def test_a_broken_stack_file_is_one_line_per_problem_with_exit_2(fixture, tmp_path):
    text = (FIXTURES / "invalid" / f"{fixture}.yaml").read_text()
    stack_dir = _stack_dir(tmp_path, text)
    done = _synth(stack_dir, "mirkwood", tmp_path / "build")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    expected = [line[len("# expect: "):] for line in text.splitlines() if line.startswith("# expect: ")]
    shown = str(stack_dir / "Pulumi.mirkwood.yaml")
    problems = [line.strip() for line in done.stderr.splitlines()[1:]]
    assert problems == sorted((line.replace("Pulumi.mirkwood.yaml", shown, 1) for line in expected),
                              key=lambda line: [int(n) for n in line[len(shown) + 1:].split(":")[:2]])
    assert "canary" not in done.stdout + done.stderr
    assert not (tmp_path / "build").exists()


def test_the_reader_keeps_yaml_merges_and_reads_a_valid_file():
    read = stackfile.read(ROOT / "Pulumi.mirkwood.yaml")
    assert read.entries["homelab:environment"]["name"] == "mirkwood"


def test_a_merge_key_override_is_not_a_duplicate(tmp_path):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  base: &base {cores: 2}\n  homelab:vm:\n    <<: *base\n    cores: 4\n")
    assert stackfile.read(path).entries["homelab:vm"] == {"cores": 4}


def test_a_key_that_is_not_a_name(tmp_path):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  homelab:environment: {}\n  12: x\n")
    with pytest.raises(loader.ConfigError) as caught:
        stackfile.read(path, name="Pulumi.x.yaml")
    assert caught.value.lines == ["Pulumi.x.yaml:3:3: config key 12 is not a name such as homelab:environment"]


def _with_plain_token() -> str:
    text = (ROOT / "Pulumi.mirkwood.yaml").read_text()
    return text.replace("config:\n", "config:\n  homelab:proxmoxApiToken: root@pam!synth=canary-plain-0b1c\n", 1)


def test_the_synth_judges_a_plain_credential_as_written(tmp_path):
    """Before, the synth put a placeholder over the plain value and called the config valid."""
    done = _synth(_stack_dir(tmp_path, _with_plain_token()), "mirkwood", tmp_path / "build")
    assert done.returncode == 2, done.stdout + done.stderr
    assert ("  homelab:proxmoxApiToken: looks like a credential but is set in plain text; "
            "set it with: pulumi config set --secret proxmoxApiToken <value>") in done.stderr.splitlines()
    assert "canary-plain" not in done.stdout + done.stderr
    assert not (tmp_path / "build").exists()


def test_a_secrets_file_lacking_needed_secrets_names_them(tmp_path):
    stack_dir = _stack_dir(tmp_path, (ROOT / "Pulumi.mirkwood.yaml").read_text())
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"grafanaAdminPassword": "canary-given-1"}))
    done = _synth(stack_dir, "mirkwood", tmp_path / "build", "--secrets-file", str(secrets))
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line.strip() for line in done.stderr.splitlines()[1:]]
    assert f"{secrets}: lacks the secret proxmoxApiToken (Proxmox API token, USER@REALM!TOKENID=SECRET); " \
           "add it, or ask for stand-ins with --placeholders" in lines
    missing = sorted(line.split(" ")[4] for line in lines)
    assert "grafanaAdminPassword" not in missing and "k3sToken" not in missing  # given / optional
    assert "sshPrivateKey" in missing and "influxdbAdminPassword" in missing
    assert "canary-given" not in done.stdout + done.stderr
    assert not (tmp_path / "build").exists()
    done = _synth(stack_dir, "mirkwood", tmp_path / "build", "--secrets-file", str(secrets), "--placeholders")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_secrets_file_that_is_not_json_is_one_line(tmp_path):
    stack_dir = _stack_dir(tmp_path, (ROOT / "Pulumi.mirkwood.yaml").read_text())
    secrets = tmp_path / "secrets.json"
    secrets.write_text('{"proxmoxApiToken": "canary-plain",\n}')
    done = _synth(stack_dir, "mirkwood", tmp_path / "build", "--secrets-file", str(secrets))
    assert done.returncode == 2
    assert done.stderr.splitlines()[1:] == [f"  {secrets}:2:1: is not JSON: Expecting property name enclosed in double quotes"]


def test_stack_dir_compares_with_the_production_file_beside_it(tmp_path):
    """A staging stack elsewhere is checked against the production stack file in its own folder,
    not the project root's (whose VMID range 5000-5999 does not overlap mirkwood's)."""
    stack_dir = _stack_dir(tmp_path, (ROOT / "Pulumi.mirkwood.yaml").read_text())
    production = (ROOT / "Pulumi.lothlorien.yaml").read_text()
    production = production.replace("      first: 5000\n      last: 5999\n", "      first: 9000\n      last: 9999\n", 1)
    assert "first: 9000" in production
    (stack_dir / "Pulumi.lothlorien.yaml").write_text(production)
    done = _synth(stack_dir, "mirkwood", tmp_path / "build")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines()[1:] == [
        "  proxmox.vmid_range: overlaps the VMID range 9000-9999 of the production environment lothlorien "
        "(got '7000-9099')"]
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize("target", ["synth", "policy", "graph", "critical-path", "plan"])
def test_make_targets_take_stack_dir(target, tmp_path):
    assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), re.M), f"no `make {target}` target"
    (tmp_path / "Pulumi.lab.yaml").write_text("config: {}\n")
    done = subprocess.run(["make", "-n", target, f"STACK_DIR={tmp_path}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    runs = [line for line in done.stdout.splitlines()
            if re.search(r"-m synth(\.plan)?( |$)", line.rstrip())]
    assert runs, done.stdout
    assert all(f"--stack-dir {tmp_path}" in line for line in runs), runs
    if target == "policy":
        assert "--env $env" in runs[0] and "for env in lab;" in runs[0]


@pytest.mark.parametrize("content,expected", [
    (b"config:\n  a: 1\n---\nconfig: {}\n", "Pulumi.x.yaml:3:1: YAML syntax error: but found another document "
                                           "(expected a single document in the stream at line 1)"),
    (b"config: !!python/object:os.system {}\n", "Pulumi.x.yaml:1:9: YAML syntax error: could not determine a "
                                               "constructor for the tag 'tag:yaml.org,2002:python/object:os.system'"),
    (b"\xff\xfeconfig", "Pulumi.x.yaml: is not UTF-8 text (byte 0)"),
    (b"config:\n\thomelab:environment: {}\n", "Pulumi.x.yaml:2:1: YAML syntax error: found character that "
                                             "cannot start any token (while scanning for the next token at line 2); "
                                             "YAML indents with spaces, not tabs"),
    (b"42\n", "Pulumi.x.yaml:1:1: the top level is a number, not a mapping; a stack file is a mapping with a 'config:' key"),
])
def test_odd_files_are_one_line(tmp_path, content, expected):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_bytes(content)
    with pytest.raises(loader.ConfigError) as caught:
        stackfile.read(path, name="Pulumi.x.yaml")
    assert caught.value.lines == [expected]


def test_an_empty_stack_file_has_no_entries(tmp_path):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("# nothing yet\n")
    assert stackfile.read(path).entries == {}
