"""SSH host keys are pinned for every remote connection (issue #16, point 5): pulumi-command 1.2.1
checks a host only when `ConnectionArgs.host_key` is set (components/hostkey cites the source)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pulumi
import pytest

from components import hostkey
from components.onboard import OnboardedHost, OnboardedHostArgs
from stacks.config import loader
from synth.engine import synth_config
from synth.mocks import fake_host_key
from tests.conftest import ENVIRONMENTS, RECORDED, ROOT, registered
from tests.tools import require_tool

REMOTE = "command:remote:Command"
LOCAL = "command:local:Command"


@pytest.fixture(scope="module")
def revealed_runs(tmp_path_factory):
    """The whole program per environment with secret inputs shown (connections are secret as a whole)."""
    out = tmp_path_factory.mktemp("hostkeys")
    code = ("import json, sys\nfrom synth.engine import run\n"
            "result = run(sys.argv[1])\n"
            "json.dump({'resources': result.resources, 'revealed': result.revealed}, open(sys.argv[2], 'w'))\n")
    runs = {}
    for env in ENVIRONMENTS:
        path = out / f"{env}.json"
        done = subprocess.run([sys.executable, "-c", code, env, str(path)], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[env] = json.loads(path.read_text())
    return runs


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_ssh_connection_pins_the_key_recorded_for_its_host(env, revealed_runs):
    run = revealed_runs[env]
    recorded = {}  # address -> key the keyscan of that address records (the mocks' stand-in)
    for r in run["resources"]:
        if r["type"] == LOCAL and r["name"].endswith("-host-key"):
            environment = r["inputs"]["environment"]
            assert environment["KEY_TYPE"] == "ssh-ed25519"
            recorded[environment["HOST"]] = fake_host_key(r["name"])
    commands = [r for r in run["resources"] if r["type"] == REMOTE]
    assert len(commands) > 5
    for command in commands:
        connection = run["revealed"][command["urn"]]["connection"]
        assert connection.get("hostKey") == recorded[connection["host"]], command["name"]
        assert hostkey.host_key_problem(connection["hostKey"]) is None


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_host_key_is_recorded_after_its_machine_and_again_with_a_new_one(env, revealed_runs):
    resources = revealed_runs[env]["resources"]
    by_urn = {r["urn"]: r for r in resources}
    records = [r for r in resources if r["type"] == LOCAL and r["name"].endswith("-host-key")]
    machines = {"proxmoxve:index/vmLegacy:VmLegacy", "proxmoxve:index/containerLegacy:ContainerLegacy",
                "linode:index/instance:Instance", "incus:index/instance:Instance"}
    with_machine = [r for r in records if r["options"]["replace_with"]]
    assert with_machine, "no recorded host key belongs to a machine of this program"
    for record in with_machine:
        (machine,) = record["options"]["replace_with"]
        assert by_urn[machine]["type"] in machines
        assert machine in record["dependencies"]
        assert record["inputs"]["create"] == hostkey.keyscan_script()
    # Onboarded hosts exist already: recorded on first contact, nothing to be replaced with.
    onboarded = [r for r in records if not r["options"]["replace_with"]]
    assert sorted(r["name"] for r in onboarded) == {"mirkwood": ["merry-host-key"],
                                                   "lothlorien": ["pippin-host-key"]}[env]


PINNED = fake_host_key("pinned-in-config")


@pulumi.runtime.test
def test_a_host_key_pinned_in_the_config_is_used_and_nothing_is_recorded():
    host = OnboardedHost("pinned-pi", OnboardedHostArgs(address="10.40.0.77", ssh_user="pi", operator_user="lavender",
                                                        provision_script="true", private_key=pulumi.Output.secret("k"),
                                                        host_key=PINNED))

    def check(_):
        assert registered("pinned-pi", LOCAL) == []
        commands = registered("pinned-pi", REMOTE)
        assert sorted(r["name"] for r in commands) == ["pinned-pi-provision", "pinned-pi-ready"]
        for record in commands:
            assert RECORDED.revealed[record["urn"]]["connection"]["hostKey"] == PINNED

    return pulumi.Output.all(host.provision.urn, host.ready.urn).apply(check)


def test_config_refuses_host_keys_that_cannot_be_pinned():
    entries, secret_keys, _ = synth_config("mirkwood")
    entries["homelab:onboard"][0]["host_key"] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ"
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys=secret_keys)
    assert caught.value.lines == [
        "onboard[0].host_key: is not a host key line of type ssh-ed25519, ecdsa-sha2-nistp256, ... such as "
        "'ssh-ed25519 AAAA...' (ssh-keyscan -t ed25519 HOST; ssh-rsa is not accepted) "
        "(got 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ')"]
    entries["homelab:onboard"][0]["host_key"] = PINNED
    assert loader.validate(entries, stack="mirkwood", secret_keys=secret_keys).onboard[0].host_key == PINNED
    assert hostkey.host_key_problem("ssh-ed25519 " + fake_host_key("x", "ssh-ed448").split()[1]) == (
        "has a key that is not of type ssh-ed25519")


def test_connections_without_a_host_key_are_refused():
    with pytest.raises(ValueError, match="every connection pins one"):
        hostkey.connection("10.0.0.1", "root", "key", None)


@pytest.mark.system
def test_keyscan_script_passes_shellcheck():
    result = subprocess.run([require_tool("shellcheck"), "--severity=style", str(hostkey.KEYSCAN_SCRIPT)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def _keyscan(host: str, port: int, timeout: int, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path or os.environ["PATH"], "HOST": host, "PORT": str(port), "KEY_TYPE": "ssh-ed25519",
           "TIMEOUT": str(timeout)}
    return subprocess.run(["/bin/bash", "-c", hostkey.keyscan_script()], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_keyscan_prints_only_the_key_line_and_gives_up_after_its_timeout(tmp_path):
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "ssh-keyscan").write_text("#!/bin/sh\necho '# 10.0.0.9:22 SSH-2.0-OpenSSH_9.2p1'\n"
                                      "echo '10.0.0.9 ssh-rsa AAAAB3NzaC1yc2E'\n"
                                      f"echo '10.0.0.9 {PINNED}'\n")
    (stub / "ssh-keyscan").chmod(0o755)
    found = _keyscan("10.0.0.9", 22, 0, f"{stub}:/usr/bin:/bin")
    assert (found.returncode, found.stdout) == (0, PINNED + "\n")
    (stub / "ssh-keyscan").write_text("#!/bin/sh\nexit 1\n")
    silent = _keyscan("10.0.0.9", 22, 0, f"{stub}:/usr/bin:/bin")
    assert silent.returncode == 1 and silent.stdout == ""
    assert "no ssh-ed25519 host key from 10.0.0.9:22 after 0s" in silent.stderr


@pytest.mark.system
def test_keyscan_records_the_key_a_real_sshd_presents(tmp_path):
    """Against a real OpenSSH server: the recorded line is the server's ed25519 public key in the
    authorized_keys form pulumi-command's host_key takes (ssh.ParseAuthorizedKey)."""
    sshd, keygen = require_tool("sshd"), require_tool("ssh-keygen")
    require_tool("ssh-keyscan")
    if os.geteuid() != 0:
        pytest.skip("sshd needs root here") if os.environ.get("CI") != "true" else pytest.fail("sshd needs root")
    key = tmp_path / "ssh_host_ed25519_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    server = subprocess.Popen([sshd, "-D", "-e", "-f", "/dev/null", "-h", str(key), "-p", str(port),
                               "-o", "ListenAddress=127.0.0.1", "-o", "PidFile=none", "-o", "UsePAM=no"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        result = _keyscan("127.0.0.1", port, 30)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.returncode == 0, result.stderr
    expected = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    assert result.stdout == expected + "\n"
    assert hostkey.host_key_problem(result.stdout.strip()) is None


def _known_hosts(file: Path, pinned: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(file.parent), "KNOWN_HOSTS": str(file), "PINNED": pinned}
    return subprocess.run(["/bin/bash", "-c", hostkey.KNOWN_HOSTS_SCRIPT.read_text()], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.system
def test_known_hosts_gets_the_pinned_node_keys_and_refuses_other_ones(tmp_path):
    """What the Proxmox provider's SSH checks (bpg proxmox/ssh/client.go: ~/.ssh/known_hosts, an
    unknown host added on first contact, a changed key refused)."""
    require_tool("ssh-keygen")
    require_tool("shellcheck")
    assert subprocess.run(["shellcheck", "--severity=style", str(hostkey.KNOWN_HOSTS_SCRIPT)],
                          capture_output=True, check=False).returncode == 0
    file = tmp_path / ".ssh" / "known_hosts"
    node_a, node_b = fake_host_key("node-a"), fake_host_key("node-b")
    first = _known_hosts(file, f"10.20.0.11 {node_a}\n10.20.0.12 {node_b}\n")
    assert first.returncode == 0, first.stderr
    assert file.read_text() == f"10.20.0.11 {node_a}\n10.20.0.12 {node_b}\n"
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    again = _known_hosts(file, f"10.20.0.11 {node_a}\n")
    assert (again.returncode, again.stdout) == (0, "")
    assert file.read_text() == f"10.20.0.11 {node_a}\n10.20.0.12 {node_b}\n"
    # ssh-keygen -F also finds hashed entries (HashKnownHosts yes)
    subprocess.run([require_tool("ssh-keygen"), "-H", "-f", str(file)], capture_output=True, check=True)
    changed = _known_hosts(file, f"10.20.0.11 {fake_host_key('impostor')}\n")
    assert changed.returncode == 1
    assert "holds another ssh-ed25519 host key for 10.20.0.11 than the one pinned in the config" in changed.stderr


def test_pinned_proxmox_node_keys_are_in_place_before_the_provider(tmp_path):
    """The provider (and so every Proxmox resource) waits for the known_hosts command."""
    import yaml

    stack_dir = tmp_path / "stacks"
    stack_dir.mkdir()
    document = yaml.safe_load((ROOT / "Pulumi.mirkwood.yaml").read_text())
    key = fake_host_key("iluvatar")
    document["config"]["homelab:proxmox"]["nodes"][0]["host_key"] = key
    (stack_dir / "Pulumi.mirkwood.yaml").write_text(yaml.safe_dump(document))
    (stack_dir / "Pulumi.lothlorien.yaml").write_text((ROOT / "Pulumi.lothlorien.yaml").read_text())
    done = subprocess.run([sys.executable, "-m", "synth", "--env", "mirkwood", "--out", str(tmp_path / "build"),
                           "--stack-dir", str(stack_dir)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    resources = json.loads((tmp_path / "build" / "mirkwood" / "resources.json").read_text())
    (known,) = [r for r in resources if r["name"] == "proxmox-known-hosts"]
    assert known["type"] == LOCAL and known["inputs"]["environment"] == {"PINNED": f"10.20.0.11 {key}\n"}
    (provider,) = [r for r in resources if r["type"] == "pulumi:providers:proxmoxve"]
    assert known["urn"] in provider["dependencies"]
