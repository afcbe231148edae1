"""The k3s VIP: kube-vip's manifest as k3s auto-deploys it, and the config checks that keep a VIP
to an unused address of its servers' network on an HA cluster."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
import yaml

from components.k3s import vip
from stacks.config import loader
from synth.engine import synth_config


def test_kube_vip_manifest_is_valid_kubernetes_and_announces_the_vip_by_arp():
    docs = list(yaml.safe_load_all(vip.manifest("10.50.0.20")))
    assert [d["kind"] for d in docs] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.31", strict=True)
    pod = docs[3]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["address"] == "10.50.0.20" and env["vip_arp"] == "true" and env["cp_enable"] == "true"
    assert env["vip_leaderelection"] == "true" and "vip_interface" not in env  # default route's interface
    assert pod["hostNetwork"] is True and pod["serviceAccountName"] == docs[0]["metadata"]["name"]
    assert pod["containers"][0]["image"] == "ghcr.io/kube-vip/kube-vip:v1.0.4"
    # Leader election needs leases; the binding names the ServiceAccount the pod runs as.
    assert any("leases" in rule["resources"] for rule in docs[1]["rules"])
    assert docs[2]["subjects"] == [{"kind": "ServiceAccount", "name": "kube-vip", "namespace": "kube-system"}]
    with_interface = yaml.safe_load_all(vip.manifest("10.50.0.20", "eth1"))
    ds = [d for d in with_interface if d["kind"] == "DaemonSet"][0]
    assert {"name": "vip_interface", "value": "eth1"} in ds["spec"]["template"]["spec"]["containers"][0]["env"]
    with pytest.raises(ValueError):
        vip.manifest("k3s.lothlorien.lan")


def _problems(env: str, **cluster) -> list[str]:
    entries, secret_keys, _ = synth_config(env)
    entries = copy.deepcopy(entries)
    entries["homelab:k3s"]["clusters"][0].update(cluster)
    try:
        loader.validate(entries, stack=env, secret_keys=secret_keys)
    except loader.ConfigError as error:
        return sorted(error.lines)
    return []


@pytest.mark.parametrize("address, expected", [
    ("10.50.0.31", "is the address of proxmox.vms[3].ipv4 (lothlorien-k3s-a1); the VIP must be a free address of the network"),
    ("10.50.0.1", "is already the address of environment.networks.production.gateway"),
    ("10.50.0.40", "is already the address of incus.remotes.iapetus.address"),
    ("10.50.0.10", "is the address of proxmox.containers[0].ipv4 (lothlorien-dns); the VIP must be a free address "
                   "of the network"),
    ("10.60.0.20", "is in none of the environment's networks: ARP reaches only the servers' own"),
])
def test_a_vip_is_checked_against_every_known_address(address, expected):
    assert _problems("lothlorien", vip=address, tls_san=[address, "k3s.lothlorien.lan"]) == [
        f"k3s.clusters[0].vip: {expected} (got '{address}')"]


def test_the_committed_ha_cluster_has_a_free_vip_and_a_single_server_takes_none():
    assert _problems("lothlorien") == []
    entries, _, _ = synth_config("lothlorien")
    assert entries["homelab:k3s"]["clusters"][0]["vip"] == "10.50.0.20"
    assert _problems("mirkwood", vip="10.40.0.20", tls_san=["10.40.0.20"]) == [
        "k3s.clusters[0].vip: a single-server cluster is reached at its server's address; a VIP needs several "
        "servers to move between (got '10.40.0.20')"]
