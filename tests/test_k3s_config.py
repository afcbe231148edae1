"""The k3s config section: every problem reported at once, one exact line each, before anything is
declared. Nodes are looked up among the hosts every section declares."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import loader, model
from stacks.config.base import DeclaredHost
from synth.engine import stack_entries

HOSTS = ("mk-k3s-s1", "mk-k3s-s2", "mk-k3s-s3", "mk-k3s-a1", "mk-k3s-a2", "merry")


@pytest.fixture
def declared(monkeypatch):
    """The hosts the proxmox and onboard sections would declare (VMs and a Raspberry Pi, mixed)."""
    hosts = [DeclaredHost(name, "onboard" if name == "merry" else "proxmox-vm", f"hosts[{i}]")
             for i, name in enumerate(HOSTS)]
    # The lab DNS that serves the published API names (stacks/config/names.py).
    hosts.append(DeclaredHost("mk-dns", "proxmox-lxc", f"hosts[{len(hosts)}]", address="10.40.0.10",
                              distribution="debian12", groups=("dns",)))
    monkeypatch.setattr(model, "declared_hosts", lambda cfg: hosts)
    return hosts


def entries(*clusters: dict[str, Any]) -> dict[str, Any]:
    base, _ = stack_entries("mirkwood")
    found = {key: value for key, value in base.items() if key == "homelab:environment"}
    found["homelab:k3s"] = {"clusters": list(clusters)}
    found["homelab:sshPrivateKey"] = "synth-placeholder"
    return found


def cluster(**fields: Any) -> dict[str, Any]:
    return {"name": "mirkwood", "version": "v1.31.4+k3s1", "servers": ["mk-k3s-s1"],
            "agents": ["mk-k3s-a1", "mk-k3s-a2"], **fields}


def problems(*clusters: dict[str, Any]) -> list[str]:
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries(*clusters), stack="mirkwood", secret_keys={"homelab:sshPrivateKey"})
    return sorted(caught.value.lines)


def test_single_server_and_ha_clusters_with_vms_and_a_pi_are_valid(declared):
    one = loader.validate(entries(cluster()), stack="mirkwood", secret_keys={"homelab:sshPrivateKey"})
    assert one.k3s.clusters[0].servers == ("mk-k3s-s1",)
    ha = cluster(servers=["mk-k3s-s1", "mk-k3s-s2", "mk-k3s-s3"], agents=["mk-k3s-a1", "merry"],
                 vip="10.40.0.20", tls_san=["10.40.0.20", "k3s.mirkwood.lan"], disable=["traefik"],
                 node_labels={"merry": {"homelab.io/arch": "arm64"}},
                 node_taints={"merry": ["homelab.io/pi=true:NoSchedule"]})
    cfg = loader.validate(entries(ha), stack="mirkwood", secret_keys={"homelab:sshPrivateKey"})
    assert cfg.k3s.clusters[0].node_taints == {"merry": ("homelab.io/pi=true:NoSchedule",)}


def test_topology_problems(declared):
    assert problems(cluster(servers=["mk-k3s-s1", "mk-k3s-s2"])) == [
        "k3s.clusters[0].servers: 2 servers cannot keep etcd quorum through a failure; use 1, 3 or 5 "
        "(got ['mk-k3s-s1', 'mk-k3s-s2'])",
    ]
    assert problems(cluster(servers=[])) == ["k3s.clusters[0].servers: agents need at least one server to join (got [])"]
    assert problems(cluster(servers=[], agents=[])) == ["k3s.clusters[0].servers: a cluster needs at least one server (got [])"]


def test_unknown_and_duplicate_nodes(declared):
    assert problems(
        cluster(agents=["mk-k3s-a1", "mk-k3s-a22", "mk-k3s-s1"]),
        cluster(name="second", servers=["mk-k3s-a1"], agents=[]),
    ) == sorted([
        "k3s.clusters[0].agents[1]: is not a host declared in this environment; did you mean 'mk-k3s-a2'? (got 'mk-k3s-a22')",
        "k3s.clusters[0].agents[2]: is already a k3s node at k3s.clusters[0].servers[0] (got 'mk-k3s-s1')",
        "k3s.clusters[1].servers[0]: is already a k3s node at k3s.clusters[0].agents[0] (got 'mk-k3s-a1')",
    ])
    assert problems(cluster(), cluster(servers=["mk-k3s-s2"], agents=[])) == [
        "k3s.clusters[1].name: cluster name is already used by k3s.clusters[0].name (got 'mirkwood')"]


def test_vip_must_be_in_tls_san_and_labels_must_name_nodes(declared):
    assert problems(cluster(vip="10.40.0.20", tls_san=["k3s.mirkwood.lan"],
                            servers=["mk-k3s-s1", "mk-k3s-s2", "mk-k3s-s3"],
                            node_labels={"merry": {"homelab.io/arch": "arm64"}})) == [
        "k3s.clusters[0].node_labels.merry: is not a server or agent of this cluster (got 'merry')",
        "k3s.clusters[0].tls_san: must include the VIP 10.40.0.20 so the API certificate is valid for it "
        "(got ['k3s.mirkwood.lan'])",
    ]


def test_cidrs_must_not_overlap_each_other_or_the_environment(declared):
    assert problems(cluster(cluster_cidr="10.40.0.0/16", service_cidr="10.40.128.0/17")) == [
        "k3s.clusters[0].cluster_cidr: overlaps environment.networks.staging.cidr 10.40.0.0/24 (got '10.40.0.0/16')",
        "k3s.clusters[0].service_cidr: overlaps k3s.clusters[0].cluster_cidr 10.40.0.0/16 (got '10.40.128.0/17')",
    ]


def test_single_field_errors_name_the_field(declared):
    assert problems(cluster(version="1.31.4", disable=["traefik", "flannel"],
                            node_taints={"mk-k3s-a1": ["gpu:Sometimes"]}, vip="not a name")) == [
        "k3s.clusters[0].disable[1]: Input should be 'coredns', 'local-storage', 'metrics-server', 'servicelb' "
        "or 'traefik' (got 'flannel')",
        "k3s.clusters[0].node_taints.mk-k3s-a1[0]: is not a taint key[=value]:Effect with Effect NoSchedule, "
        "PreferNoSchedule or NoExecute (got 'gpu:Sometimes')",
        "k3s.clusters[0].version: is not a k3s release tag such as v1.31.4+k3s1 (got '1.31.4')",
        "k3s.clusters[0].vip: is not an IP address or a DNS name, e.g. 10.50.0.20 or k3s.lothlorien.lan "
        "(got 'not a name')",
    ]


def test_release_tag_with_a_pinned_installer_accepted(declared):
    loader.validate(entries(cluster(version="v1.31.4+k3s1")), stack="mirkwood", secret_keys={"homelab:sshPrivateKey"})


@pytest.mark.parametrize("tag", ["v1.32.0-rc1+k3s2", "v1.30.10+k3s12"])
def test_release_tags_accepted_but_each_needs_its_installer_checksum(declared, tag):
    """The tag's form is valid; what stops it is the missing installer row (components/k3s/installers.py)."""
    assert problems(cluster(version=tag)) == [
        f"k3s.clusters[0].version: has no pinned installer checksum: add a row for {tag} to "
        f"components/k3s/installers.py (the sha256 of install.sh at a reviewed k3s-io/k3s commit) (got {tag!r})"]


@pytest.mark.parametrize("tag", ["v1.31.4", "1.31.4+k3s1", "v1.31+k3s1", "latest", "v1.31.4+rke2r1"])
def test_other_versions_rejected(declared, tag):
    assert problems(cluster(version=tag)) == [
        f"k3s.clusters[0].version: is not a k3s release tag such as v1.31.4+k3s1 (got {tag!r})"]


def test_ssh_key_is_required_and_the_token_optional(declared):
    cfg = loader.validate(entries(cluster(), cluster(name="edge", servers=["merry"], agents=[])),
                          stack="mirkwood", secret_keys={"homelab:sshPrivateKey"})
    specs = {spec.key: spec.required for spec in model.needed_secrets(cfg)}
    assert specs["sshPrivateKey"] is True
    assert specs["k3sToken"] is False and specs["k3sToken-edge"] is False
    missing = entries(cluster())
    del missing["homelab:sshPrivateKey"]
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(missing, stack="mirkwood")
    assert any(line.startswith("homelab:sshPrivateKey: required secret is not set") for line in caught.value.lines)
