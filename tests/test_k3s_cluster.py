"""The k3s Cluster component under Pulumi mocks: 1+2 (mirkwood) and 3+3 (lothlorien) topologies, the
join graph, version changes as updates, and the secrets (token, kubeconfig) never in the clear."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi_command import remote

from components.k3s import Cluster, ClusterArgs, K3sNode
from components.k3s.render import KUBECONFIG_PATH

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"
TOKEN = "K10supplied-token-value-7c1d"
VERSION = "v1.31.4+k3s1"

K3S_YAML = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUUREQmhyTTNNdGMyVnkKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENDQVRlZ0F3SUJBZ0lJVEh3S2dWZ0R3cDh3Q2dZSUtvWkl6ajBFQXdJd0l6RWhNQjhHQTFVRUF3d1kKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUZha2VLZXlGb3JUZXN0c09ubHlOb3RBUmVhbEtleUFBQUFBQUFBQUFBQUFBb0FvR0NDcUdTTTQ5CkF3RUhvVVFEUWdBRQotLS0tLUVORCBFQyBQUklWQVRFIEtFWS0tLS0tCg==
"""
CLIENT_KEY = yaml.safe_load(K3S_YAML)["users"][0]["user"]["client-key-data"]


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    dependencies: list[str]
    inputs: dict[str, Any]
    secret_outputs: list[str]
    ignore_changes: list[str]
    protect: bool


@dataclass
class Recorder(MockMonitor):
    registrations: dict[str, Registration] = field(default_factory=dict)

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations = {}

    def RegisterResource(self, request):  # noqa: N802 (gRPC name)
        response = super().RegisterResource(request)
        self.registrations[request.name] = Registration(
            type=request.type,
            name=request.name,
            urn=response.urn,
            dependencies=list(request.dependencies),
            inputs=rpc.deserialize_properties(request.object),
            secret_outputs=list(request.additionalSecretOutputs),
            ignore_changes=list(request.ignoreChanges),
            protect=request.protect,
        )
        return response


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if args.typ == "command:remote:Command":
            create = args.inputs.get("create", "")
            state["stdout"] = K3S_YAML if KUBECONFIG_PATH in create else f"k3s[{args.name}]: node Ready\n"
            state["stderr"] = ""
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = "generated-" + "x" * 38
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    mocks = Mocks()
    monitor = Recorder(mocks)
    pulumi.runtime.set_mocks(mocks, project="homelab", stack="test", preview=False, monitor=monitor)
    yield monitor


def node(name: str, address: str, ready: pulumi.Resource, user: str = "operator", **extra: Any) -> K3sNode:
    return K3sNode(
        name=name,
        address=address,
        ssh_user=user,
        connection=remote.ConnectionArgs(host=address, user=user, private_key=pulumi.Output.secret("PRIVATE-KEY")),
        ready=(ready,),
        **extra,
    )


def hosts(names: list[str], base: int) -> dict[str, tuple[str, pulumi.Resource]]:
    """Each host's address and the resource that stands for 'provisioned' (cloud-init finished)."""
    out = {}
    for offset, name in enumerate(names):
        address = f"192.168.{base}.{11 + offset}"
        ready = remote.Command(
            f"{name}-cloud-init",
            connection=remote.ConnectionArgs(host=address, user="operator"),
            create="cloud-init status --wait",
        )
        out[name] = (address, ready)
    return out


def mirkwood(version: str = VERSION, token: Any = None) -> Cluster:
    h = hosts(["mk-k3s-1", "mk-k3s-2", "mk-k3s-3"], 20)
    return Cluster(
        "mirkwood",
        ClusterArgs(
            version=version,
            servers=[node("mk-k3s-1", *h["mk-k3s-1"])],
            agents=[node(n, *h[n]) for n in ("mk-k3s-2", "mk-k3s-3")],
            disable=("traefik",),
            token=token,
        ),
    )


def lothlorien() -> Cluster:
    names = [f"lo-k3s-{i}" for i in range(1, 7)]
    h = hosts(names, 30)
    return Cluster(
        "lothlorien",
        ClusterArgs(
            version=VERSION,
            servers=[node(n, *h[n], cluster_address=h[n][0].replace("192.168", "10.30")) for n in names[:3]],
            agents=[node(n, *h[n], labels={"homelab.io/pool": "general"}) for n in names[3:]],
            vip="192.168.30.10",
            tls_san=("192.168.30.10", "k3s.lothlorien.lan"),
            disable=("traefik", "servicelb"),
            token=pulumi.Output.secret(TOKEN),
            protect_servers=True,
        ),
    )


def deps(reg: Registration) -> list[str]:
    """What a command waits for among commands (the generated token adds a data dependency)."""
    return [urn for urn in reg.dependencies if "command:remote:Command::" in urn]


def unwrap(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        return value["value"], True
    return value, False


def create_config(reg: Registration) -> dict:
    """The config.yaml embedded in a node command's script."""
    script = shlex.split(reg.inputs["create"])[-1]  # sudo --non-interactive bash -c SCRIPT
    start = script.index("<<'HOMELAB_K3S_CONFIG'\n") + len("<<'HOMELAB_K3S_CONFIG'\n")
    end = script.index("\nHOMELAB_K3S_CONFIG\n", start)
    return yaml.safe_load(script[start:end])


def done(cluster: Cluster, check) -> pulumi.Output:
    return pulumi.Output.all(cluster.urn, cluster.kubeconfig, cluster.provider.urn, *[r.urn for r in cluster.ready]).apply(
        lambda values: check(values)
    )


@pulumi.runtime.test
def test_mirkwood_one_server_two_agents_join_graph(recorder: Recorder) -> pulumi.Output:
    cluster = mirkwood()

    def check(_: Any) -> None:
        regs = recorder.registrations
        server = regs["mirkwood-server-mk-k3s-1"]
        assert create_config(server)["cluster-init"] is True
        assert "server" not in create_config(server)
        assert deps(server) == [regs["mk-k3s-1-cloud-init"].urn]
        for agent in ("mk-k3s-2", "mk-k3s-3"):
            join = regs[f"mirkwood-agent-{agent}-join"]
            sync = regs[f"mirkwood-agent-{agent}-sync"]
            assert sorted(deps(join)) == sorted([regs[f"{agent}-cloud-init"].urn, server.urn])
            assert sorted(deps(sync)) == sorted([join.urn, server.urn])
            assert create_config(join)["server"] == "https://192.168.20.11:6443"
            assert join.ignore_changes == ["create"] and join.inputs["update"] == "true"
            assert "k3s-agent-uninstall.sh" in join.inputs["delete"]
            assert sync.inputs["create"] == sync.inputs["update"] == join.inputs["create"]
        assert "k3s-uninstall.sh" in server.inputs["delete"]
        # generated once, kept in state: a RandomPassword without keepers
        token = regs["mirkwood-token"]
        assert token.type == "random:index/randomPassword:RandomPassword"
        assert token.inputs["length"] == 48 and "keepers" not in token.inputs
        assert unwrap(server.inputs["stdin"]) == ("generated-" + "x" * 38, True)
        provider = regs["mirkwood-provider"]
        assert provider.type == "pulumi:providers:kubernetes"
        kubeconfig, secret = unwrap(provider.inputs["kubeconfig"])
        assert secret
        assert yaml.safe_load(kubeconfig)["clusters"][0]["cluster"]["server"] == "https://192.168.20.11:6443"
        assert cluster.version == VERSION

    return done(cluster, check)


@pulumi.runtime.test
def test_lothlorien_servers_join_one_at_a_time_agents_in_parallel_on_the_first(recorder: Recorder) -> pulumi.Output:
    cluster = lothlorien()

    def check(_: Any) -> None:
        regs = recorder.registrations
        s1, s2, s3 = (regs[f"lothlorien-server-lo-k3s-{i}"] for i in (1, 2, 3))
        assert create_config(s1)["cluster-init"] is True
        for joiner, before in ((s2, s1), (s3, s2)):
            config = create_config(joiner)
            assert "cluster-init" not in config
            assert config["server"] == "https://10.30.30.11:6443"  # the first server, inside the cluster
            host = joiner.name.removeprefix("lothlorien-server-")
            assert sorted(deps(joiner)) == sorted([regs[f"{host}-cloud-init"].urn, before.urn])
        settings = ("cluster-cidr", "service-cidr", "disable", "secrets-encryption", "tls-san")
        assert {k: create_config(s1)[k] for k in settings} == {k: create_config(s2)[k] for k in settings}
        assert {k: create_config(s1)[k] for k in settings} == {k: create_config(s3)[k] for k in settings}
        assert create_config(s1)["tls-san"] == [
            "192.168.30.10", "k3s.lothlorien.lan",
            "10.30.30.11", "192.168.30.11", "10.30.30.12", "192.168.30.12", "10.30.30.13", "192.168.30.13",
        ]
        assert create_config(s1)["secrets-encryption"] is True
        assert all(s.protect for s in (s1, s2, s3))

        agent_urns = {regs[f"lothlorien-agent-lo-k3s-{i}-{kind}"].urn for i in (4, 5, 6) for kind in ("join", "sync")}
        for i in (4, 5, 6):
            join = regs[f"lothlorien-agent-lo-k3s-{i}-join"]
            sync = regs[f"lothlorien-agent-lo-k3s-{i}-sync"]
            # every agent joins on the first server's readiness only, never after another agent
            assert sorted(deps(join)) == sorted([regs[f"lo-k3s-{i}-cloud-init"].urn, s1.urn])
            assert not set(deps(join)) & agent_urns
            # upgrades: agents after the last server
            assert sorted(deps(sync)) == sorted([join.urn, s3.urn])
            assert create_config(join)["node-label"] == ["homelab.io/pool=general"]
            assert not join.protect
        read = regs["lothlorien-kubeconfig"]
        assert set(deps(read)) == {s1.urn, s2.urn, s3.urn} | {
            regs[f"lothlorien-agent-lo-k3s-{i}-sync"].urn for i in (4, 5, 6)
        }
        assert "mirkwood-token" not in regs and "lothlorien-token" not in regs  # token supplied

    return done(cluster, check)


@pulumi.runtime.test
def test_secrets_never_in_command_lines_state_or_logs(recorder: Recorder) -> pulumi.Output:
    cluster = lothlorien()

    def check(values: list[Any]) -> None:
        regs = recorder.registrations
        commands = [r for r in regs.values() if r.type == "command:remote:Command"]
        for reg in commands:
            for key in ("create", "update", "delete"):
                text, secret = unwrap(reg.inputs.get(key, ""))
                assert not secret, f"{reg.name}.{key} should be plain text"
                assert TOKEN not in text and CLIENT_KEY not in text
            if "stdin" in reg.inputs:
                assert unwrap(reg.inputs["stdin"]) == (TOKEN, True)
        read = regs["lothlorien-kubeconfig"]
        assert read.inputs["create"] == f"sudo --non-interactive cat {KUBECONFIG_PATH}"
        assert read.inputs["logging"] == "none"
        assert read.inputs["addPreviousOutputInEnv"] is False
        assert "stdout" in read.secret_outputs
        assert "stdin" not in read.inputs

    async def secret_flags() -> list[bool]:
        return [await cluster.kubeconfig.is_secret(), await cluster.api_endpoint.is_secret()]

    flags = pulumi.Output.from_input(pulumi.Output.from_input(secret_flags()))
    return pulumi.Output.all(done(cluster, check), flags).apply(lambda v: _assert_flags(v[1]))


def _assert_flags(flags: list[bool]) -> None:
    assert flags == [True, False]  # the kubeconfig is secret, the endpoint is a plain value


@pulumi.runtime.test
def test_kubeconfig_points_at_the_vip_and_is_named_after_the_cluster(recorder: Recorder) -> pulumi.Output:
    cluster = lothlorien()

    def check(values: list[Any]) -> None:
        kubeconfig = yaml.safe_load(values[1])
        assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://192.168.30.10:6443"
        assert kubeconfig["current-context"] == "lothlorien"
        assert kubeconfig["contexts"] == [
            {"name": "lothlorien", "context": {"cluster": "lothlorien", "user": "lothlorien"}}
        ]
        assert kubeconfig["users"][0]["user"]["client-key-data"] == CLIENT_KEY

    return pulumi.Output.all(done(cluster, lambda v: None), cluster.kubeconfig, cluster.api_endpoint).apply(
        lambda v: (check(v), v[2] == "https://192.168.30.10:6443" or pytest.fail(v[2]))
    )


@pulumi.runtime.test
def test_a_new_version_changes_the_same_commands_as_updates(recorder: Recorder) -> pulumi.Output:
    cluster = mirkwood(version="v1.32.1+k3s1", token=pulumi.Output.secret(TOKEN))

    def check(_: Any) -> None:
        regs = recorder.registrations
        names = sorted(n for n, r in regs.items() if r.type == "command:remote:Command" and n.startswith("mirkwood"))
        assert names == [
            "mirkwood-agent-mk-k3s-2-join", "mirkwood-agent-mk-k3s-2-sync",
            "mirkwood-agent-mk-k3s-3-join", "mirkwood-agent-mk-k3s-3-sync",
            "mirkwood-kubeconfig", "mirkwood-server-mk-k3s-1",
        ]
        for name in names:
            reg = regs[name]
            assert "triggers" not in reg.inputs  # a trigger change would replace (pulumi-command#855)
            if name.endswith(("-sync", "mk-k3s-1")):
                assert reg.inputs["update"] == reg.inputs["create"]
                assert "readonly VERSION=v1.32.1+k3s1" in reg.inputs["create"]

    return done(cluster, check)


def test_a_cluster_needs_a_server_and_a_release_tag(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="at least one server"):
        Cluster("empty", ClusterArgs(version=VERSION, servers=[]))
    with pytest.raises(ValueError, match="not a release tag"):
        Cluster("bad", ClusterArgs(version="1.31", servers=[node("a", "10.0.0.1", None)]))  # type: ignore[arg-type]
