"""k3s in the whole program, per environment, as `make synth` renders it: topology on the
environment's hosts, join graph on the hosts' readiness, secrets masked, scripts that pass shellcheck."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from synth.wire import MASK
from tests.tools import require_tool
from tests.helpers import some

COMMAND = "command:remote:Command"
TOPOLOGY = {
    "mirkwood": (["mirkwood-k3s-s1"], ["mirkwood-k3s-a1", "mirkwood-k3s-a2", "merry"]),
    "lothlorien": (["lothlorien-k3s-s1", "lothlorien-k3s-s2", "lothlorien-k3s-s3"],
                   ["lothlorien-k3s-a1", "lothlorien-k3s-a2", "lothlorien-k3s-a3", "pippin"]),
}


def script_of(command_line: str) -> str:
    return shlex.split(command_line)[-1]  # [sudo --non-interactive] bash -c SCRIPT


def config_of(resource: dict) -> dict:
    script = script_of(resource["inputs"]["create"])
    start = script.index("<<'HOMELAB_K3S_CONFIG'\n") + len("<<'HOMELAB_K3S_CONFIG'\n")
    return yaml.safe_load(script[start:script.index("\nHOMELAB_K3S_CONFIG\n", start)])


# Where each cluster answers: mirkwood's single server, lothlorien's VIP (kube-vip on its servers).
FRONT = {"mirkwood": "10.40.0.21", "lothlorien": "10.50.0.20"}


@pytest.mark.parametrize("env", sorted(TOPOLOGY))
def test_cluster_nodes_join_graph_and_outputs(env, synth_result):
    run = synth_result(env)
    servers, agents = TOPOLOGY[env]
    by_name = {r["name"]: r for r in run.resources}
    commands = {r["name"]: r for r in run.of_type(COMMAND) if "homelab:k3s:Cluster" in (r["parent"] or "")}
    expected = {f"{env}-server-{s}{suffix}" for s in servers for suffix in ("", "-etcd-backup")} | {
        f"{env}-kubeconfig", f"{env}-ca-hash"} | {f"{env}-agent-{a}-{kind}" for a in agents for kind in ("join", "sync")}
    assert set(commands) == expected

    first = commands[f"{env}-server-{servers[0]}"]
    assert config_of(first)["cluster-init"] is True
    # A node waits for its host: the VM of this program, or an onboarded host's readiness check.
    vm_urn = {r["name"].removesuffix("-vm"): r["urn"] for r in run.resources if r["type"] == "proxmoxve:index/vmLegacy:VmLegacy"}
    vm_urn |= {r["name"].removesuffix("-ready"): r["urn"] for r in run.of_type(COMMAND) if r["name"].endswith("-ready")}
    assert vm_urn[servers[0]] in first["dependencies"]  # the host is provisioned first
    for before, server in zip(servers, servers[1:]):
        joiner = commands[f"{env}-server-{server}"]
        assert commands[f"{env}-server-{before}"]["urn"] in joiner["dependencies"]
        assert vm_urn[server] in joiner["dependencies"]
        assert config_of(joiner)["server"] == f"https://{FRONT[env]}:6443"
    agent_urns = {c["urn"] for n, c in commands.items() if "-agent-" in n}
    for agent in agents:
        join = commands[f"{env}-agent-{agent}-join"]
        assert first["urn"] in join["dependencies"] and vm_urn[agent] in join["dependencies"]
        assert not set(join["dependencies"]) & agent_urns
        assert config_of(join)["server"] == f"https://{FRONT[env]}:6443"
        sync = commands[f"{env}-agent-{agent}-sync"]
        assert commands[f"{env}-server-{servers[-1]}"]["urn"] in sync["dependencies"]

    pi = agents[-1]  # the onboarded Raspberry Pi: labelled and tainted from config
    assert config_of(commands[f"{env}-agent-{pi}-join"])["node-taint"] == ["homelab.io/pi=true:NoSchedule"]
    assert config_of(commands[f"{env}-agent-{pi}-join"])["node-label"] == ["homelab.io/board=raspberry-pi-4"]
    for server in servers:
        assert commands[f"{env}-server-{server}"]["options"]["protect"] is (env == "lothlorien")
    assert by_name[f"{env}-provider"]["inputs"]["kubeconfig"] == MASK
    # The kubeconfig read waits for the first server only: joins are off the critical path.
    read = commands[f"{env}-kubeconfig"]
    assert {u for u in read["dependencies"] if COMMAND in u} == {first["urn"]}
    assert FRONT[env] in config_of(first)["tls-san"]
    assert run.outputs["k3s"] == {
        "name": env,
        "api_endpoint": f"https://{FRONT[env]}:6443",
        "version": script_of(first["inputs"]["create"]).split("readonly VERSION=")[1].splitlines()[0],
    }
    # A top-level secret output of its own: pulumi/actions masks only whole secret outputs.
    assert run.outputs["kubeconfig"] == MASK
    for command in some((c for c in commands.values() if "stdin" in c["inputs"]), "k3s commands with a stdin"):
        assert command["inputs"]["stdin"] == MASK


@pytest.mark.system
@pytest.mark.parametrize("env", sorted(TOPOLOGY))
def test_rendered_node_scripts_pass_shellcheck(env, synth_result, tmp_path: Path):
    require_tool("shellcheck")
    run = synth_result(env)
    paths = []
    for command in run.of_type(COMMAND):
        in_cluster = "homelab:k3s:Cluster" in (command["parent"] or "")
        if not in_cluster or command["name"].endswith(("-kubeconfig", "-ca-hash")):  # one-line reads
            continue
        for field in ("create", "delete"):
            text = command["inputs"].get(field)
            if text and text != "true":
                path = tmp_path / f"{command['name']}.{field}.sh"
                path.write_text(script_of(text))
                paths.append(str(path))
    assert len(paths) >= 6
    result = subprocess.run(["shellcheck", *paths], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
