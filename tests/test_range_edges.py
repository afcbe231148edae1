"""Both edges of every range and overlap check: the value on the edge is in, one past it is out.

A check that turns strict (`<` for `<=`) or half-open passes every test that only probes values far
inside or far outside; these probe the edges themselves."""

from __future__ import annotations

import copy

import pytest

from stacks.config import loader
from stacks.config import proxmox as pxcfg
from tests.test_proxmox_config import SECRETS, _committed, _entries


def _problems(entries: dict) -> list[str]:
    try:
        loader.validate(entries, stack="mirkwood", secret_keys=set(SECRETS))
    except loader.ConfigError as error:
        return sorted(error.lines)
    return []


def _with_vm_id(vm_id: int) -> dict:
    entries = _entries(vmid_range={"first": 7000, "last": 9099})
    entries["homelab:proxmox"]["vms"][1]["vm_id"] = vm_id
    return entries


@pytest.mark.parametrize(("vm_id", "inside"), [(7000 - 1, False), (9099, True), (9099 + 1, False)])
def test_vmid_range_is_closed_at_both_ends(vm_id, inside):
    # 7000 itself is the rocky9 template's VMID in the base config: the first VMID is in (below).
    problems = [p for p in _problems(_with_vm_id(vm_id)) if "VMID range" in p]
    assert problems == ([] if inside else
                        [f"proxmox.vms[1].vm_id: is outside the environment's VMID range 7000-9099 (got {vm_id})"])


def test_the_first_vmid_of_the_range_is_inside():
    entries = _entries(vmid_range={"first": 7111, "last": 9099},
                       templates=[{"distribution": "rocky9", "vm_id": 7112}, {"distribution": "debian12", "vm_id": 7113}])
    entries["homelab:proxmox"]["vms"][0]["vm_id"] = 7114
    assert [p for p in _problems(entries) if "VMID range" in p] == []
    entries["homelab:proxmox"]["vmid_range"]["first"] = 7112
    assert [p for p in _problems(entries) if "VMID range" in p] == [
        "proxmox.vms[1].vm_id: is outside the environment's VMID range 7112-9099 (got 7111)"]


def _staging_with_range(first: int, last: int):
    production = _committed("lothlorien")
    entries = _entries(vmid_range={"first": first, "last": last},
                       templates=[{"distribution": "rocky9", "vm_id": first}, {"distribution": "debian12", "vm_id": first + 1}])
    entries["homelab:proxmox"]["vms"][0]["vm_id"] = first + 2
    entries["homelab:proxmox"]["vms"][1]["vm_id"] = first + 3
    entries["homelab:proxmox"]["containers"][0]["vm_id"] = first + 4
    staging = loader.validate(entries, stack="mirkwood", secret_keys=set(SECRETS))
    return [str(p) for p in pxcfg.conflicts(staging, production) if p.path == "proxmox.vmid_range"], production


def test_staging_range_sharing_one_vmid_with_production_is_refused_at_either_end():
    prod = _committed("lothlorien").proxmox.vmid_range
    below, _ = _staging_with_range(prod.first - 10, prod.first)       # shares production's first VMID
    above, _ = _staging_with_range(prod.last, prod.last + 10)         # shares production's last VMID
    assert len(below) == 1 and f"(got '{prod.first - 10}-{prod.first}')" in below[0]
    assert len(above) == 1 and f"(got '{prod.last}-{prod.last + 10}')" in above[0]


def test_staging_range_adjacent_to_production_is_accepted_at_either_end():
    prod = _committed("lothlorien").proxmox.vmid_range
    assert _staging_with_range(prod.first - 10, prod.first - 1)[0] == []
    assert _staging_with_range(prod.last + 1, prod.last + 10)[0] == []


def _network_entries(cidr: str, **vm) -> dict:
    entries = _entries()
    entries["homelab:environment"]["networks"]["staging"]["cidr"] = cidr
    entries["homelab:environment"]["networks"]["staging"]["gateway"] = "10.40.0.100"  # off the edges
    entries["homelab:proxmox"]["vms"][0].update(vm)
    entries["homelab:proxmox"]["containers"][0]["ipv4"] = "10.40.0.10"
    return entries


@pytest.mark.parametrize(("address", "inside"), [
    ("10.40.0.0", False),    # the network address
    ("10.40.0.1", True),     # the first host
    ("10.40.0.254", True),   # the last host
    ("10.40.0.255", False),  # the broadcast address
    ("10.40.1.0", False),    # one past the network
])
def test_a_host_address_must_be_a_usable_address_of_its_network(address, inside):
    problems = [p for p in _problems(_network_entries("10.40.0.0/24", ipv4=address)) if p.startswith("proxmox.vms[0].ipv4")]
    assert (problems == []) is inside, problems


def test_environment_networks_that_touch_are_accepted_and_that_share_an_address_are_refused():
    entries = _entries()
    networks = entries["homelab:environment"]["networks"]
    networks["lab"] = {"cidr": "10.40.1.0/24"}            # right after 10.40.0.0/24
    assert [p for p in _problems(entries) if "overlaps" in p] == []
    networks["lab"] = {"cidr": "10.40.0.128/25"}          # inside it
    assert [p for p in _problems(copy.deepcopy(entries)) if "overlaps" in p]
    networks["lab"] = {"cidr": "10.40.0.0/23"}            # containing it
    assert [p for p in _problems(copy.deepcopy(entries)) if "overlaps" in p]
