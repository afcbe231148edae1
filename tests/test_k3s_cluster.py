"""The k3s Cluster component under Pulumi mocks: 1+2 (mirkwood) and 3+3 (lothlorien) topologies, the
join graph, version changes as updates, and the secrets (token, kubeconfig) never in the clear.

Each test names its resources with its own prefix: the recording monitor keeps every registration
of the session (tests/conftest.py)."""

from __future__ import annotations

import shlex
from typing import Any

import pulumi
import pytest
import yaml
from pulumi_command import remote

from components.k3s import Cluster, ClusterArgs, K3sNode
from components.k3s import render
from components.k3s.render import KUBECONFIG_PATH
from components.k3s import render
from synth.mocks import _random_password, k3s_ca_prefix, k3s_kubeconfig
from synth.wire import MASK
from tests.conftest import RECORDED, registered
from tests.helpers import some

TOKEN = "K10supplied-token-value-7c1d"
VERSION = "v1.31.4+k3s1"
COMMAND = "command:remote:Command"


def records(prefix: str) -> dict[str, dict[str, Any]]:
    """What the engine saw for this test's resources (names start with its prefix), by name."""
    return {r["name"]: r for r in registered(prefix)}


def revealed(record: dict[str, Any]) -> dict[str, Any]:
    return RECORDED.revealed[record["urn"]]


def commands_deps(record: dict[str, Any]) -> list[str]:
    """What a command waits for among commands (a generated token adds a data dependency)."""
    return sorted(urn for urn in record["dependencies"] if f"{COMMAND}::" in urn)


def config_of(record: dict[str, Any]) -> dict:
    """The config.yaml embedded in a node command's script."""
    script = shlex.split(record["inputs"]["create"])[-1]  # [sudo --non-interactive] bash -c SCRIPT
    start = script.index("<<'HOMELAB_K3S_CONFIG'\n") + len("<<'HOMELAB_K3S_CONFIG'\n")
    return yaml.safe_load(script[start:script.index("\nHOMELAB_K3S_CONFIG\n", start)])


def hosts(prefix: str, count: int, subnet: int) -> list[tuple[str, str, pulumi.Resource]]:
    """Host name, address and the resource standing for 'provisioned' (cloud-init finished)."""
    out = []
    for i in range(count):
        name, address = f"{prefix}-k3s-{i + 1}", f"192.168.{subnet}.{11 + i}"
        ready = remote.Command(f"{name}-cloud-init", connection=remote.ConnectionArgs(host=address, user="operator"),
                               create="cloud-init status --wait")
        out.append((name, address, ready))
    return out


def node(host: tuple[str, str, pulumi.Resource], user: str = "operator", **extra: Any) -> K3sNode:
    name, address, ready = host
    return K3sNode(
        name=name,
        address=address,
        ssh_user=user,
        connection=remote.ConnectionArgs(host=address, user=user, private_key=pulumi.Output.secret("PRIVATE-KEY")),
        ready=(ready,),
        **extra,
    )


def one_plus_two(prefix: str, version: str = VERSION, token: Any = None) -> Cluster:
    h = hosts(prefix, 3, 20)
    return Cluster(prefix, ClusterArgs(version=version, servers=[node(h[0])], agents=[node(h[1]), node(h[2])],
                                       disable=("traefik",), token=token))


def three_plus_three(prefix: str) -> Cluster:
    h = hosts(prefix, 6, 30)
    return Cluster(
        prefix,
        ClusterArgs(
            version=VERSION,
            servers=[node(x, cluster_address=x[1].replace("192.168", "10.30")) for x in h[:3]],
            agents=[node(x, labels={"homelab.io/pool": "general"}) for x in h[3:]],
            vip="192.168.30.10",
            tls_san=("192.168.30.10", "k3s.lothlorien.lan"),
            disable=("traefik", "servicelb"),
            token=pulumi.Output.secret(TOKEN),
            protect_servers=True,
        ),
    )


def after(cluster: Cluster, check) -> pulumi.Output:
    """Run `check(kubeconfig, api_endpoint)` once every resource of the cluster is registered."""
    return pulumi.Output.all(
        cluster.urn, cluster.provider.urn, *[r.urn for r in cluster.ready], cluster.kubeconfig, cluster.api_endpoint
    ).apply(lambda values: check(values[-2], values[-1]))


@pulumi.runtime.test
def test_one_server_two_agents_join_graph_and_generated_token():
    p = "k3t-mk"
    cluster = one_plus_two(p)

    def check(kubeconfig: str, endpoint: str) -> None:
        regs = records(p)
        server = regs[f"{p}-server-{p}-k3s-1"]
        assert config_of(server)["cluster-init"] is True and "server" not in config_of(server)
        assert commands_deps(server) == [regs[f"{p}-k3s-1-cloud-init"]["urn"]]
        assert "k3s-uninstall.sh" in server["inputs"]["delete"]
        ca_hash = regs[f"{p}-ca-hash"]
        assert commands_deps(ca_hash) == [server["urn"]]
        assert "kube-vip" not in server["inputs"]["create"] and "wait_vip" not in server["inputs"]["create"]
        assert commands_deps(regs[f"{p}-kubeconfig"]) == [server["urn"]]
        for agent in (f"{p}-k3s-2", f"{p}-k3s-3"):
            join, sync = regs[f"{p}-agent-{agent}-join"], regs[f"{p}-agent-{agent}-sync"]
            # the CA hash (read from the first server) is in the agent's token: a data dependency
            assert commands_deps(join) == sorted([regs[f"{agent}-cloud-init"]["urn"], server["urn"], ca_hash["urn"]])
            assert commands_deps(sync) == sorted([join["urn"], server["urn"], ca_hash["urn"]])
            assert config_of(join)["server"] == "https://192.168.20.11:6443"
            assert join["options"]["ignore_changes"] == ["create"] and join["inputs"]["update"] == "true"
            assert "k3s-agent-uninstall.sh" in join["inputs"]["delete"]
            assert sync["inputs"]["create"] == sync["inputs"]["update"] == join["inputs"]["create"]
            assert "delete" not in sync["inputs"]
        for generated_name in (f"{p}-token", f"{p}-agent-token"):
            token = regs[generated_name]
            assert token["type"] == "random:index/randomPassword:RandomPassword"
            assert token["inputs"]["length"] == 48 and "keepers" not in token["inputs"]  # generated once, stable
            generated = revealed(token)  # inputs only; the result is the provider's
            assert "result" not in generated
        assert server["inputs"]["stdin"] == MASK
        provider = regs[f"{p}-provider"]
        assert provider["type"] == "pulumi:providers:kubernetes"
        assert provider["inputs"]["kubeconfig"] == MASK
        server_url = yaml.safe_load(revealed(provider)["kubeconfig"])["clusters"][0]["cluster"]["server"]
        assert server_url == endpoint == "https://192.168.20.11:6443"
        assert cluster.version == VERSION

    return after(cluster, check)


@pulumi.runtime.test
def test_three_servers_join_one_at_a_time_and_agents_join_in_parallel_on_the_first():
    p = "k3t-lo"
    cluster = three_plus_three(p)

    def check(kubeconfig: str, endpoint: str) -> None:
        regs = records(p)
        s1, s2, s3 = (regs[f"{p}-server-{p}-k3s-{i}"] for i in (1, 2, 3))
        assert config_of(s1)["cluster-init"] is True
        for joiner, before, host in ((s2, s1, f"{p}-k3s-2"), (s3, s2, f"{p}-k3s-3")):
            assert "cluster-init" not in config_of(joiner)
            assert config_of(joiner)["server"] == "https://192.168.30.10:6443"  # through the VIP
            assert commands_deps(joiner) == sorted([regs[f"{host}-cloud-init"]["urn"], before["urn"],
                                                    regs[f"{p}-ca-hash"]["urn"]])
        same = ("cluster-cidr", "service-cidr", "disable", "secrets-encryption", "tls-san")
        for other in (s2, s3):
            assert {k: config_of(s1)[k] for k in same} == {k: config_of(other)[k] for k in same}
        assert config_of(s1)["tls-san"] == [
            "192.168.30.10", "k3s.lothlorien.lan",
            "10.30.30.11", "192.168.30.11", "10.30.30.12", "192.168.30.12", "10.30.30.13", "192.168.30.13",
        ]
        assert config_of(s1)["secrets-encryption"] is True
        assert config_of(s1)["disable"] == ["servicelb", "traefik"]
        assert all(s["options"]["protect"] for s in (s1, s2, s3))

        agents = {regs[f"{p}-agent-{p}-k3s-{i}-{kind}"]["urn"] for i in (4, 5, 6) for kind in ("join", "sync")}
        for i in (4, 5, 6):
            join, sync = regs[f"{p}-agent-{p}-k3s-{i}-join"], regs[f"{p}-agent-{p}-k3s-{i}-sync"]
            # every agent joins on the first server's readiness only, never after another agent
            ca_hash = regs[f"{p}-ca-hash"]["urn"]
            assert commands_deps(join) == sorted([regs[f"{p}-k3s-{i}-cloud-init"]["urn"], s1["urn"], ca_hash])
            assert not set(join["dependencies"]) & agents
            # a version change reaches agents after the last server
            assert commands_deps(sync) == sorted([join["urn"], s3["urn"], ca_hash])
            assert not set(sync["dependencies"]) & (agents - {join["urn"]})
            assert config_of(join)["node-label"] == ["homelab.io/pool=general"]
            assert config_of(join)["server"] == "https://192.168.30.10:6443"  # agents join through the VIP
            assert not join["options"]["protect"]
        read = regs[f"{p}-kubeconfig"]
        # The kubeconfig (and all built with it) waits for the first server only, never for joins.
        assert commands_deps(read) == [s1["urn"]]
        # kube-vip announces the VIP from k3s's auto-deploy directory on every server, and each
        # server's script waits until the VIP answers before anything joins through it.
        for server in (s1, s2, s3):
            script = shlex.split(server["inputs"]["create"])[-1]
            start = script.index("<<'HOMELAB_K3S_MANIFEST'\n") + len("<<'HOMELAB_K3S_MANIFEST'\n")
            docs = list(yaml.safe_load_all(script[start:script.index("\nHOMELAB_K3S_MANIFEST\n", start)]))
            daemonset = next(d for d in docs if d["kind"] == "DaemonSet")
            env = {e["name"]: e.get("value") for e in daemonset["spec"]["template"]["spec"]["containers"][0]["env"]}
            assert env["address"] == "192.168.30.10" and env["vip_arp"] == "true" and env["cp_enable"] == "true"
            assert "/var/lib/rancher/k3s/server/manifests/kube-vip.yaml" in script
            assert "readonly VIP_ADDRESS=192.168.30.10\nwait_vip() {" in script
            assert "192.168.30.10" in config_of(server)["tls-san"]
        assert f"{p}-token" not in regs  # supplied from config: nothing generated

    return after(cluster, check)


@pulumi.runtime.test
def test_secrets_never_in_command_lines_and_kubeconfig_read_is_not_logged():
    p = "k3t-sec"
    cluster = three_plus_three(p)
    client_key = yaml.safe_load(k3s_kubeconfig(f"{p}-kubeconfig"))["users"][0]["user"]["client-key-data"]

    def check(kubeconfig: str, endpoint: str) -> None:
        regs = records(p)
        commands = some((r for r in regs.values() if r["type"] == COMMAND and r["name"].startswith(f"{p}-")),
                        "the cluster's remote commands")
        assert {f"{p}-server-{p}-k3s-1", f"{p}-agent-{p}-k3s-4-join", f"{p}-kubeconfig"} <= {r["name"] for r in commands}
        for reg in commands:
            shown = revealed(reg)
            for key in ("create", "update", "delete"):
                assert reg["inputs"].get(key) != MASK, f"{reg['name']}.{key} should be plain text"
                assert TOKEN not in shown.get(key, "") and client_key not in shown.get(key, "")
            if "stdin" in reg["inputs"]:
                assert reg["inputs"]["stdin"] == MASK and shown["stdin"]
        read = regs[f"{p}-kubeconfig"]
        # The provider's credential: a ServiceAccount token that does not expire (day 2), read
        # with the cluster's CA from k3s.yaml by provider-credential.sh.
        assert read["inputs"]["create"] == read["inputs"]["update"] == render.provider_credential_command("operator")
        assert KUBECONFIG_PATH in read["inputs"]["create"] and "service-account-token" in read["inputs"]["create"]
        assert read["inputs"]["logging"] == "none"
        assert read["inputs"]["addPreviousOutputInEnv"] is False
        assert "stdout" in read["options"]["additional_secret_outputs"]
        assert "stdin" not in read["inputs"]
        user = yaml.safe_load(kubeconfig)["users"][0]["user"]
        assert client_key not in kubeconfig and set(user) == {"token"}  # no certificate that expires

    async def flags() -> list[bool]:
        return [await cluster.kubeconfig.is_secret(), await cluster.api_endpoint.is_secret()]

    return pulumi.Output.all(after(cluster, check), pulumi.Output.from_input(flags())).apply(
        lambda values: _expect(values[1] == [True, False], f"kubeconfig secret, endpoint plain: got {values[1]}")
    )


def _expect(condition: bool, message: str) -> None:
    assert condition, message


@pulumi.runtime.test
def test_kubeconfig_points_at_the_vip_and_is_named_after_the_cluster():
    p = "k3t-vip"
    cluster = three_plus_three(p)

    def check(kubeconfig: str, endpoint: str) -> None:
        doc = yaml.safe_load(kubeconfig)
        assert endpoint == "https://192.168.30.10:6443"
        assert doc["clusters"] == [{"name": p, "cluster": {
            "certificate-authority-data": doc["clusters"][0]["cluster"]["certificate-authority-data"],
            "server": "https://192.168.30.10:6443"}}]
        assert doc["current-context"] == p
        assert doc["contexts"] == [{"name": p, "context": {"cluster": p, "user": p}}]
        assert [u["name"] for u in doc["users"]] == [p]

    return after(cluster, check)


@pulumi.runtime.test
def test_a_new_version_changes_the_same_commands_as_updates_not_replacements():
    p = "k3t-up"
    cluster = one_plus_two(p, version="v1.32.1+k3s1", token=pulumi.Output.secret(TOKEN))

    def check(kubeconfig: str, endpoint: str) -> None:
        regs = records(p)
        names = sorted(n for n, r in regs.items() if r["type"] == COMMAND and not n.endswith("-cloud-init"))
        assert names == [
            f"{p}-agent-{p}-k3s-2-join", f"{p}-agent-{p}-k3s-2-sync",
            f"{p}-agent-{p}-k3s-3-join", f"{p}-agent-{p}-k3s-3-sync",
            f"{p}-ca-hash", f"{p}-kubeconfig", f"{p}-server-{p}-k3s-1",
        ]
        for name in names:
            reg = regs[name]
            assert "triggers" not in reg["inputs"]  # a trigger change would replace (pulumi-command#855)
            assert reg["options"]["replace_on_changes"] == ["triggers[*]"]  # the SDK's own; no triggers set
            if name.endswith(("-sync", "-k3s-1")):
                assert reg["inputs"]["update"] == reg["inputs"]["create"]
                assert "readonly VERSION=v1.32.1+k3s1" in shlex.split(reg["inputs"]["create"])[-1]

    return after(cluster, check)


def test_a_cluster_needs_a_server_and_a_release_tag():
    with pytest.raises(ValueError, match="at least one server"):
        Cluster("k3t-empty", ClusterArgs(version=VERSION, servers=[]))
    with pytest.raises(ValueError, match="not a release tag"):
        Cluster("k3t-bad", ClusterArgs(version="1.31", servers=[
            K3sNode(name="x", address="10.0.0.1", ssh_user="root", connection=remote.ConnectionArgs(host="10.0.0.1"))]))


@pulumi.runtime.test
def test_agents_hold_only_the_agent_token_and_every_join_pins_the_cluster_ca():
    """docs.k3s.io/cli/token: the server token is cluster admin; a short token trusts any CA. The
    first server starts with the short token (its CA does not exist yet), every later join gets the
    secure token K10<CA hash>::<server|node>:<password> (k3s-io/k3s docs/adrs/agent-join-token.md)."""
    p = "k3t-tok"
    cluster = three_plus_three(p)
    agent_password = _random_password({"length": 48}, f"{p}-agent-token")["result"]
    ca = k3s_ca_prefix(f"{p}-ca-hash")

    def check(kubeconfig: str, endpoint: str) -> None:
        regs = records(p)
        stdin = {name: revealed(reg)["stdin"] for name, reg in regs.items() if "stdin" in reg["inputs"]}
        # a server: its token, then the agents' token as the file agent-token-file names
        agent_file = {render.AGENT_TOKEN_FILE: agent_password}
        assert stdin[f"{p}-server-{p}-k3s-1"] == render.stdin_payload(TOKEN, agent_file)
        for i in (2, 3):
            assert stdin[f"{p}-server-{p}-k3s-{i}"] == render.stdin_payload(f"{ca}::server:{TOKEN}", agent_file)
        agents = {name: value for name, value in stdin.items() if "-agent-" in name}
        assert len(agents) == 6
        for name, value in agents.items():
            assert value == f"{ca}::node:{agent_password}", name
            assert TOKEN not in value
        read = regs[f"{p}-ca-hash"]
        assert read["inputs"]["create"] == (
            "sudo --non-interactive sed -n 's/^\\(K10[0-9a-f]\\{64\\}\\)::.*$/\\1/p' /var/lib/rancher/k3s/server/token")
        assert "stdin" not in read["inputs"]
        for i in (1, 2, 3):
            assert config_of(regs[f"{p}-server-{p}-k3s-{i}"])["agent-token-file"] == "/etc/rancher/k3s/agent-token"
        assert all("agent-token-file" not in config_of(regs[n]) for n in agents)

    return after(cluster, check)
