"""Networks the program creates against the addresses and networks it is told about (stacks/config/overlap.py)."""

from __future__ import annotations

import copy

import pytest

from stacks.config import loader
from stacks.config.overlap import _ipv4, created_networks, known_addresses
from synth.engine import synth_config


def _lothlorien(**incus_networks):
    entries, secret_keys, _ = synth_config("lothlorien")
    entries = copy.deepcopy(entries)
    entries["homelab:incus"]["networks"].update(incus_networks)
    return entries, secret_keys


def test_the_committed_incus_management_network_is_off_the_proxmox_management_lan():
    entries, secret_keys = _lothlorien()
    cfg = loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    nodes = [address for path, address in known_addresses(cfg) if path.startswith("proxmox.nodes")]
    assert [str(a) for a in nodes] == ["10.20.0.21", "10.20.0.22", "10.20.0.23"]
    assert not [(p, n) for p, n in created_networks(cfg) for a in nodes if a in n]


def test_the_old_incus_management_network_over_the_proxmox_nodes_is_refused():
    entries, secret_keys = _lothlorien(management={"cidr": "10.20.0.0/24"})
    # An instance on it (a network is created only on the remotes whose instances use it).
    entries["homelab:incus"]["instances"]["mgmt"] = {"remote": "cluster01", "network": "management",
                                                     "address": "10.20.0.10"}
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    suffix = "which would be unreachable from the hosts this network is created on (got '10.20.0.0/24')"
    assert caught.value.lines == [
        *[f"incus.networks.management.cidr: contains proxmox.nodes[{i}].address 10.20.0.2{i + 1}, {suffix}" for i in range(3)],
        *[f"incus.networks.management.cidr: contains monitoring.proxmox.targets[{i}] 10.20.0.2{i + 1}, {suffix}"
          for i in range(3)],
    ]


@pytest.mark.parametrize("text, address", [
    ("10.0.0.5", "10.0.0.5"), ("10.0.0.5:8443", "10.0.0.5"), ("https://10.0.0.5:8443", "10.0.0.5"),
    ("https://incus.lan:8443", None), ("unix://", None), ("pippin.lothlorien.lan", None)])
def test_addresses_are_read_from_urls_and_host_port_pairs(text, address):
    assert (str(_ipv4(text)) if _ipv4(text) else None) == address
