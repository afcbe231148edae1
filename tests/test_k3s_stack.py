"""stacks/k3s.py: clusters wired from the validated config and the host registry, on VMs and
onboarded hosts mixed; the token from secret config when set, generated otherwise."""

from __future__ import annotations

import shlex
from typing import Any

import pulumi
import pytest
import yaml
from pulumi_command import remote

from stacks import k3s
from stacks.config import loader, model
from stacks.config.base import DeclaredHost
from stacks.secrets import Secrets
from stacks.hosts import Cluster, Host, HostRegistry
from synth.mocks import fake_host_key
from synth.engine import stack_entries
from synth.wire import MASK
from tests.conftest import RECORDED, registered

PLATFORMS = {"k3w-s1": "proxmox-vm", "k3w-a1": "proxmox-vm", "k3w-pi": "onboard"}


@pytest.fixture(autouse=True)
def restore_config():
    """set_config writes the process-wide config: put it back for the tests that follow."""
    before = dict(pulumi.runtime.config.CONFIG.get())
    yield
    current = pulumi.runtime.config.CONFIG.get()
    current.clear()
    current.update(before)


@pytest.fixture
def declared(monkeypatch):
    hosts = [DeclaredHost(name, platform, f"hosts[{i}]") for i, (name, platform) in enumerate(PLATFORMS.items())]
    monkeypatch.setattr(model, "declared_hosts", lambda cfg: hosts)


@pytest.fixture
def components(monkeypatch) -> list[Any]:
    """The K3sCluster components the stack layer builds: a check waits for all of their commands,
    not only the kubeconfig (an agent's join registers after it)."""
    built: list[Any] = []
    real = k3s.K3sCluster

    def build(*args: Any, **kwargs: Any) -> Any:
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(k3s, "K3sCluster", build)
    return built


def settled(cluster: Cluster, built: list[Any]) -> pulumi.Output[list[Any]]:
    return pulumi.Output.all(cluster.kubeconfig, cluster.provider.urn, *(c.id for b in built for c in b.ready))


def config(env: str, cluster_name: str) -> Any:
    base, _ = stack_entries(env)
    entries = {key: value for key, value in base.items() if key == "homelab:environment"}
    entries["homelab:k3s"] = {"clusters": [{
        "name": cluster_name, "version": "v1.31.4+k3s1", "servers": ["k3w-s1"], "agents": ["k3w-a1", "k3w-pi"],
        "node_taints": {"k3w-pi": ["homelab.io/pi=true:NoSchedule"]},
    }]}
    entries["homelab:sshPrivateKey"] = "placeholder"
    secret_keys = {"homelab:sshPrivateKey"}
    if base["homelab:environment"]["production"]:
        # Production needs its datastore copied off the cluster (stacks/config/backups.py).
        entries["homelab:backups"] = {"store": {"endpoint": "minio.lan:9000", "bucket": "k3w-backups"},
                                      "k3s": {"s3": True}}
        for key in ("backupS3AccessKey", "backupS3SecretKey"):
            entries[f"homelab:{key}"] = "placeholder"
            secret_keys.add(f"homelab:{key}")
    return loader.validate(entries, stack=env, secret_keys=secret_keys)


def registry(prefix: str) -> HostRegistry:
    hosts = HostRegistry()
    for i, (name, platform) in enumerate(PLATFORMS.items()):
        address = f"10.40.0.{21 + i}"
        ready = remote.Command(f"{prefix}-{name}-provisioned", connection=remote.ConnectionArgs(host=address),
                               create="cloud-init status --wait")
        hosts.add(Host(name=name, fqdn=f"{name}.mirkwood.lan", platform=platform, distribution="debian12",
                       address=pulumi.Output.from_input(address), ssh_user="pi" if platform == "onboard" else "lavender",
                       ready=(ready,), host_key=fake_host_key(name)))
    return hosts


def secrets(token: str | None) -> Secrets:
    pulumi.runtime.set_config("homelab:sshPrivateKey", "-----BEGIN OPENSSH PRIVATE KEY-----\nk3w\n")
    if token is not None:
        pulumi.runtime.set_config("homelab:k3sToken", token)
    return Secrets(pulumi.Config("homelab"))


def by_name(prefix: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in registered(prefix)}


@pulumi.runtime.test
def test_cluster_on_vms_and_an_onboarded_pi_with_token_from_config(declared, components):
    cfg = config("mirkwood", "k3w-mk")
    hosts = registry("k3w-mk")
    cluster = k3s.deploy(cfg, secrets("K10-from-config-token"), hosts)
    assert isinstance(cluster, Cluster) and cluster.name == "k3w-mk" and cluster.version == "v1.31.4+k3s1"

    def check(_: Any) -> None:
        regs = by_name("k3w-mk")
        pi_join = regs["k3w-mk-agent-k3w-pi-join"]
        assert regs["k3w-mk-k3w-pi-provisioned"]["urn"] in pi_join["dependencies"]
        assert regs["k3w-mk-server-k3w-s1"]["urn"] in pi_join["dependencies"]
        assert pi_join["inputs"]["connection"] == MASK
        connection = RECORDED.revealed[pi_join["urn"]]["connection"]
        assert (connection["host"], connection["user"]) == ("10.40.0.23", "pi")
        script = shlex.split(pi_join["inputs"]["create"])[-1]
        assert "node-taint:\n- homelab.io/pi=true:NoSchedule\n" in script
        assert "k3w-mk-token" not in regs  # supplied: nothing generated
        # the first server: the configured server token, then the (generated) agent token
        first_line = RECORDED.revealed[regs["k3w-mk-server-k3w-s1"]["urn"]]["stdin"].split("\n")[0]
        assert first_line == "K10-from-config-token"
        assert "K10-from-config-token" not in RECORDED.revealed[pi_join["urn"]]["stdin"]
        assert not regs["k3w-mk-server-k3w-s1"]["options"]["protect"]  # staging stays easy to tear down

    return settled(cluster, components).apply(check)


@pulumi.runtime.test
def test_production_protects_servers_and_generates_a_token_when_unset(declared, components):
    cfg = config("lothlorien", "k3w-lo")
    hosts = registry("k3w-lo")
    cluster = k3s.deploy(cfg, _no_token_secrets(), hosts)

    def check(values: list[Any]) -> None:
        regs = by_name("k3w-lo")
        assert regs["k3w-lo-server-k3w-s1"]["options"]["protect"]
        assert not regs["k3w-lo-agent-k3w-a1-join"]["options"]["protect"]
        assert regs["k3w-lo-token"]["type"] == "random:index/randomPassword:RandomPassword"
        assert yaml.safe_load(values[0])["clusters"][0]["cluster"]["server"] == "https://10.40.0.21:6443"

    return settled(cluster, components).apply(check)


def _no_token_secrets() -> Secrets:
    """Secrets of a stack where k3sToken was never set (a namespace holding only the SSH key)."""
    pulumi.runtime.set_config("k3wnotoken:sshPrivateKey", "-----BEGIN OPENSSH PRIVATE KEY-----\nk3w\n")
    pulumi.runtime.set_config("k3wnotoken:backupS3AccessKey", "k3w-access")
    pulumi.runtime.set_config("k3wnotoken:backupS3SecretKey", "k3w-secret")
    return Secrets(pulumi.Config("k3wnotoken"))


def test_no_k3s_section_means_no_cluster():
    base, _ = stack_entries("mirkwood")
    cfg = loader.validate({k: v for k, v in base.items() if k == "homelab:environment"}, stack="mirkwood")
    assert k3s.deploy(cfg, Secrets(pulumi.Config("homelab")), HostRegistry()) is None
