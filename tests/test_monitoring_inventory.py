"""stacks/ansible_inventory.py: Ansible's inventory-script protocol over the stack outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stacks import ansible_inventory as inv

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ROOT / "synth" / "fixtures" / "stacks" / "mirkwood.json"


def run_module(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stacks.ansible_inventory", *args],
        cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_list_groups_and_hostvars_from_a_file():
    done = run_module("--outputs", str(OUTPUTS), "--list")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["k3s_server"] == {"hosts": ["mirk-k3s-1"]}
    assert data["platform_proxmox_lxc"] == {"hosts": ["mirk-db-1"]}
    assert data["distribution_debian12"] == {"hosts": ["mirk-edge-1", "mirk-k3s-1"]}
    assert data["env_mirkwood"]["hosts"] == ["mirk-db-1", "mirk-edge-1", "mirk-k3s-1"]
    assert "k3s_server" in data["all"]["children"] and "ungrouped" in data["all"]["children"]
    assert data["all"]["vars"]["homelab_endpoint_prometheus"] == "https://10.30.0.20"
    assert data["_meta"]["hostvars"]["mirk-edge-1"] == {
        "ansible_host": "172.105.10.20",
        "ansible_user": "thranduil",
        "homelab_distribution": "debian12",
        "homelab_environment": "mirkwood",
        "homelab_fqdn": "mirk-edge-1.mirkwood.lan",
        "homelab_groups": ["edge"],
        "homelab_platform": "linode",
        "homelab_private_address": "192.168.140.20",
    }
    # Secrets never travel into the inventory.
    assert "[secret]" not in done.stdout


def test_host_from_stdin_and_unknown_host_is_empty():
    text = OUTPUTS.read_text()
    done = run_module("--host", "mirk-k3s-1", stdin=text)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ansible_host"] == "10.30.0.21"
    assert json.loads(run_module("--host", "nobody", stdin=text).stdout) == {}


def test_rejects_outputs_of_another_contract_major():
    data = json.loads(OUTPUTS.read_text())
    data["contract_version"] = "1.0"
    done = run_module("--list", stdin=json.dumps(data))
    assert done.returncode == 2
    assert "contract_version 1.0 is not supported" in done.stderr


def test_unwraps_secret_envelopes_and_outputs_wrapper():
    data = json.loads(OUTPUTS.read_text())
    data["kubeconfig"] = {inv._SIG_KEY: inv._SECRET_SIG, "value": "apiVersion: v1"}
    loaded = inv.load_outputs(json.dumps({"outputs": data}))
    assert loaded["kubeconfig"] == "apiVersion: v1"
    assert inv.build_inventory(loaded)["all"]["vars"]["homelab_k3s_api_endpoint"] == "https://10.30.0.20:6443"


@pytest.mark.system
def test_ansible_inventory_reads_the_script(tmp_path):
    """The real `ansible-inventory` runs the script (as Ansible would) and sees the groups."""
    tool = shutil.which("ansible-inventory") or shutil.which("ansible-inventory", path=str(Path(sys.executable).parent))
    if tool is None:
        from tests.tools import require_tool
        tool = require_tool("ansible-inventory")
    done = subprocess.run(
        [tool, "-i", str(ROOT / "stacks" / "ansible_inventory.py"), "--list"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "HOMELAB_OUTPUTS": str(OUTPUTS), "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
             "ANSIBLE_LOCAL_TEMP": str(tmp_path), "ANSIBLE_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["k3s_server"]["hosts"] == ["mirk-k3s-1"]
    assert data["_meta"]["hostvars"]["mirk-db-1"]["ansible_host"] == "10.30.0.31"
