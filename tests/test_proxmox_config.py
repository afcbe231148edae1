"""The proxmox config section: its checks, placement, declared hosts and secrets."""

from __future__ import annotations

import copy

import pytest

from stacks.config import loader
from stacks.config import proxmox as pxcfg

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"
SECRETS = {"homelab:proxmoxApiToken": "root@pam!homelab=x", "homelab:sshPrivateKey": "x"}

BASE = {
    "homelab:environment": {
        "name": "mirkwood", "domain": "mirkwood.lan",
        "networks": {"staging": {"cidr": "10.40.0.0/24", "vlan": 40}},
        "operator": {"ssh_authorized_keys": [KEY]},
    },
    "homelab:proxmox": {
        "endpoint": "https://iluvatar.mirkwood.lan:8006/",
        "nodes": [{"name": "iluvatar", "address": "10.20.0.11"}, {"name": "yavanna", "address": "10.20.0.12"}],
        "vmid_range": {"first": 7000, "last": 9099},
        "templates": [{"distribution": "rocky9"}, {"distribution": "debian12"},
                      {"distribution": "rocky9", "node": "yavanna", "vm_id": 7002}],
        "vms": [{"name": "mirkwood-k3s-s1", "vm_id": 7101, "template": "rocky9", "ipv4": "10.40.0.21",
                 "groups": ["k3s", "k3s_server"]},
                {"name": "mirkwood-k3s-a1", "vm_id": 7111, "template": "rocky9"}],
        "containers": [{"name": "mirkwood-dns", "vm_id": 7201, "ipv4": "10.40.0.10", "groups": ["dns"]}],
    },
}


def _entries(**changes) -> dict:
    entries = copy.deepcopy(BASE)
    proxmox = entries["homelab:proxmox"]
    for key, value in changes.items():
        proxmox[key] = value
    return {**entries, **SECRETS}


def _lines(entries: dict) -> list[str]:
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys=set(SECRETS))
    return sorted(caught.value.lines)


def test_base_config_is_valid_and_fills_defaults():
    cfg = loader.validate(_entries(), stack="mirkwood", secret_keys=set(SECRETS)).proxmox
    assert [(t.name, t.node, t.vm_id) for t in cfg.templates] == [
        ("rocky9", "iluvatar", 7000), ("debian12", "iluvatar", 9001), ("rocky9", "yavanna", 7002)]
    assert cfg.bridge.mtu == 1500 and cfg.storage.vm == "local-lvm" and cfg.storage.images == "local"
    assert cfg.containers[0].unprivileged is True and cfg.containers[0].nesting is True  # nesting follows unprivileged


def test_duplicate_vmids_across_templates_vms_and_containers():
    entries = _entries()
    entries["homelab:proxmox"]["vms"][1]["vm_id"] = 7000
    entries["homelab:proxmox"]["containers"][0]["vm_id"] = 7101
    assert _lines(entries) == [
        "proxmox.containers[0].vm_id: VMID is already used by proxmox.vms[0].vm_id (got 7101)",
        "proxmox.vms[1].vm_id: VMID is already used by proxmox.templates[0].vm_id (got 7000)",
    ]


def test_vmid_outside_the_environments_range():
    entries = _entries(vmid_range={"first": 7000, "last": 7199})
    assert _lines(entries) == [
        "proxmox.containers[0].vm_id: is outside the environment's VMID range 7000-7199 (got 7201)",
        "proxmox.templates[1].vm_id: is outside the environment's VMID range 7000-7199 (got 9001)",
    ]


def test_unknown_template_and_unknown_nodes():
    entries = _entries()
    entries["homelab:proxmox"]["vms"][0]["template"] = "rocky8"
    entries["homelab:proxmox"]["vms"][1]["node"] = "manwe"
    entries["homelab:proxmox"]["containers"][0]["node"] = "manwe"
    entries["homelab:proxmox"]["templates"][1]["node"] = "ulmo"
    assert _lines(entries) == [
        "proxmox.containers[0].node: is not a Proxmox node (iluvatar, yavanna) (got 'manwe')",
        "proxmox.templates[1].node: is not a Proxmox node (iluvatar, yavanna) (got 'ulmo')",
        "proxmox.vms[0].template: is not a template of proxmox.templates (debian12, rocky9) (got 'rocky8')",
        "proxmox.vms[1].node: is not a Proxmox node (iluvatar, yavanna) (got 'manwe')",
    ]


def test_clone_on_a_node_without_the_template_needs_shared_storage():
    entries = _entries()
    entries["homelab:proxmox"]["vms"][0].update(template="debian12", node="yavanna")
    assert _lines(entries) == [
        "proxmox.vms[0].node: has no template 'debian12' (templates on: iluvatar); add one there or use shared "
        "storage (got 'yavanna')",
    ]
    entries["homelab:proxmox"]["storage"] = {"vm": "ceph-vm", "shared": True}
    cfg = loader.validate(entries, stack="mirkwood", secret_keys=set(SECRETS)).proxmox
    vm = cfg.vms[0]
    assert pxcfg.vm_node(cfg, vm) == "yavanna"
    assert (cfg.template_for(vm, "yavanna").node, cfg.template_for(vm, "yavanna").vm_id) == ("iluvatar", 9001)


def test_same_template_twice_on_a_node():
    entries = _entries()
    entries["homelab:proxmox"]["templates"].append({"distribution": "rocky9", "vm_id": 7003})
    assert _lines(entries) == [
        "proxmox.templates[3].name: template is already on node iluvatar (proxmox.templates[0]) (got 'rocky9')"]


def test_addresses_outside_the_network_on_the_gateway_or_duplicated():
    entries = _entries()
    entries["homelab:proxmox"]["vms"][0]["ipv4"] = "10.41.0.21"
    entries["homelab:proxmox"]["vms"][1]["ipv4"] = "10.40.0.1"
    entries["homelab:proxmox"]["vms"].append({"name": "mirkwood-k3s-a2", "vm_id": 7112, "template": "rocky9",
                                              "ipv4": "10.40.0.10"})
    entries["homelab:proxmox"]["containers"].append({"name": "mirkwood-mqtt", "vm_id": 7202, "ipv4": "10.40.0.255"})
    assert _lines(entries) == [
        "proxmox.containers[0].ipv4: address is already used by proxmox.vms[2].ipv4 (got '10.40.0.10')",
        "proxmox.containers[1].ipv4: is the broadcast address of staging 10.40.0.0/24, not a host address (got '10.40.0.255')",
        "proxmox.vms[0].ipv4: is outside the network staging 10.40.0.0/24 (got '10.41.0.21')",
        "proxmox.vms[1].ipv4: is the gateway of the network staging (got '10.40.0.1')",
    ]


def test_invalid_hostnames_and_addresses_are_field_errors():
    entries = _entries()
    entries["homelab:proxmox"]["vms"][0]["name"] = "Mirkwood_K3s"
    entries["homelab:proxmox"]["containers"][0]["ipv4"] = "10.40.0.10/24"
    hostname = ("is not a valid hostname (RFC 1123 label: lowercase letters, digits and '-', 1-63 characters, "
                "not starting or ending with '-')")
    assert _lines(entries) == [
        "proxmox.containers[0].ipv4: must be 'dhcp' or an IPv4 address without prefix, e.g. 10.40.0.21 "
        "(got '10.40.0.10/24')",
        f"proxmox.vms[0].name: {hostname} (got 'Mirkwood_K3s')",
    ]


def test_unknown_distribution_and_container_without_lxc_template():
    entries = _entries()
    entries["homelab:proxmox"]["templates"][0]["distribution"] = "centos7"
    entries["homelab:proxmox"]["containers"][0]["distribution"] = "rocky9"
    assert _lines(entries) == [
        "proxmox.containers[0].distribution: has no LXC template in the catalog (available: debian12, debian13, ubuntu2404) (got 'rocky9')",
        "proxmox.templates[0].distribution: is not a distribution of the catalog (debian12, debian13, rocky10, rocky9, ubuntu2404) "
        "(got 'centos7')",
    ]


def test_duplicate_hostname_across_vm_and_container():
    entries = _entries()
    entries["homelab:proxmox"]["containers"][0]["name"] = "mirkwood-k3s-s1"
    assert _lines(entries) == [
        "proxmox.containers[0]: hostname is already used by proxmox.vms[0] (proxmox-vm) (got 'mirkwood-k3s-s1')"]


def test_missing_secrets_name_the_command():
    entries = copy.deepcopy(BASE)
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys=set())
    assert sorted(caught.value.lines) == [
        "homelab:proxmoxApiToken: required secret is not set (Proxmox API token, USER@REALM!TOKENID=SECRET); "
        "set it with: pulumi config set --secret proxmoxApiToken <value>",
        "homelab:sshPrivateKey: required secret is not set (SSH private key of the operator (snippet uploads, "
        "provisioning)); set it with: pulumi config set --secret sshPrivateKey <value>",
    ]


def test_spread_is_deterministic_and_independent_of_other_hosts():
    nodes = ("iluvatar", "yavanna", "manwe")
    names = [f"host-{i}" for i in range(30)]
    first = {name: pxcfg.spread(name, nodes) for name in names}
    assert first == {name: pxcfg.spread(name, tuple(reversed(nodes))) for name in names}
    assert set(first.values()) == set(nodes)  # 30 names use every node
    # a VM without a node goes where its template is (local storage)
    cfg = loader.validate(_entries(), stack="mirkwood", secret_keys=set(SECRETS)).proxmox
    assert {pxcfg.vm_node(cfg, vm) for vm in cfg.vms} <= {"iluvatar", "yavanna"}
    assert pxcfg.container_node(cfg, cfg.containers[0]) in ("iluvatar", "yavanna")


def test_declared_hosts_carry_platform_address_distribution_and_groups():
    cfg = loader.validate(_entries(), stack="mirkwood", secret_keys=set(SECRETS))
    hosts = list(pxcfg.hosts(cfg))
    assert [(h.name, h.platform, h.address, h.distribution, h.groups) for h in hosts] == [
        ("mirkwood-k3s-s1", "proxmox-vm", "10.40.0.21", "rocky9", ("k3s", "k3s_server")),
        ("mirkwood-k3s-a1", "proxmox-vm", None, "rocky9", ()),
        ("mirkwood-dns", "proxmox-lxc", "10.40.0.10", "debian12", ("dns",)),
    ]


def _committed(env: str):
    from synth.engine import synth_config

    entries, secret_keys, _ = synth_config(env)
    return loader.validate(entries, stack=env, secret_keys=secret_keys)


def test_staging_stays_off_productions_nodes_vlans_and_vmids():
    assert list(pxcfg.conflicts(_committed("mirkwood"), _committed("lothlorien"))) == []


def test_staging_on_productions_node_vlan_and_vmid_range_is_refused():
    production = _committed("lothlorien")
    entries = _entries(nodes=[{"name": "manwe", "address": "10.20.0.99"}, {"name": "yavanna", "address": "10.20.0.22"}],
                       vmid_range={"first": 5900, "last": 9099})
    entries["homelab:environment"]["networks"]["staging"]["vlan"] = 50
    staging = loader.validate(entries, stack="mirkwood", secret_keys=set(SECRETS))
    assert [str(p) for p in pxcfg.conflicts(staging, production)] == [
        "proxmox.nodes[0]: is a node of the production environment lothlorien (got 'manwe')",
        "proxmox.nodes[1]: is a node of the production environment lothlorien (got 'yavanna')",
        "proxmox.vmid_range: overlaps the VMID range 5000-5999 of the production environment lothlorien "
        "(got '5900-9099')",
        "environment.networks.staging.vlan: is the VLAN of the production network production of lothlorien (got 50)",
    ]


def test_loader_checks_staging_against_the_production_stack_file_beside_it(tmp_path):
    """The program itself refuses a staging stack on production's VLAN: peers are the project's stack files."""
    import subprocess
    import sys

    import yaml

    from tests.conftest import ROOT

    (tmp_path / "Pulumi.lothlorien.yaml").write_text((ROOT / "Pulumi.lothlorien.yaml").read_text())
    assert [p.environment.name for p in loader.peer_environments(tmp_path, "mirkwood")] == ["lothlorien"]
    document = yaml.safe_load((ROOT / "Pulumi.mirkwood.yaml").read_text())
    document["config"]["homelab:environment"]["networks"]["staging"]["vlan"] = 50
    (tmp_path / "Pulumi.mirkwood.yaml").write_text(yaml.safe_dump(document))
    done = subprocess.run([sys.executable, "-m", "synth", "--env", "mirkwood", "--out", str(tmp_path / "build"),
                           "--stack-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert ("environment.networks.staging.vlan: is the VLAN of the production network production of lothlorien "
            "(got 50)") in done.stderr
    assert not (tmp_path / "build" / "mirkwood").exists()


def test_an_api_token_not_of_the_proxmox_form_is_named_without_its_value():
    entries = {**_entries(), "homelab:proxmoxApiToken": "0123456789abcdef-not-a-token"}
    assert _lines(entries) == [
        "homelab:proxmoxApiToken: is not of the form USER@REALM!TOKENID=SECRET (value not shown)"]


def test_template_disk_defaults_to_the_image_size_and_smaller_disks_are_refused(monkeypatch):
    # bpg resizes an imported/cloned disk to the configured size; Proxmox refuses a shrink
    # (bpg/terraform-provider-proxmox issue #1351). The Rocky GenericCloud disk is 10 GiB.
    cfg = loader.validate(_entries(), stack="mirkwood", secret_keys=set(SECRETS)).proxmox
    assert [(t.distribution, t.disk_gb) for t in cfg.templates] == [("rocky9", 10), ("debian12", 8), ("rocky9", 10)]
    entries = _entries()
    entries["homelab:proxmox"]["templates"][0]["disk_gb"] = 8
    entries["homelab:proxmox"]["vms"][1]["disk_gb"] = 9
    lines = _lines(entries)
    assert lines == [
        "proxmox.templates[0].disk_gb: is smaller than the rocky9 image (10 GiB, "
        "Rocky-9-GenericCloud-Base-9.8-20260525.0.x86_64.qcow2); use 10 or more (got 8)",
        "proxmox.vms[1].disk_gb: is smaller than the disk of template rocky9 (10 GiB); use 10 or more (got 9)",
    ]


def test_container_disk_smaller_than_its_template_is_refused(monkeypatch):
    import dataclasses

    from components.catalog import CATALOG
    debian = CATALOG["debian12"]
    bigger = dataclasses.replace(debian, lxc_template=dataclasses.replace(debian.lxc_template, virtual_size_gb=4))
    monkeypatch.setitem(CATALOG, "debian12", bigger)
    entries = _entries()
    entries["homelab:proxmox"]["containers"][0]["disk_gb"] = 2
    assert _lines(entries) == [
        "proxmox.containers[0].disk_gb: is smaller than the debian12 container template (4 GiB, "
        "debian-12-standard_12.7-1_amd64.tar.zst); use 4 or more (got 2)"]


def test_nesting_follows_unprivileged_unless_set():
    entries = _entries()
    entries["homelab:proxmox"]["containers"] = [
        {"name": "ct-a", "vm_id": 7201}, {"name": "ct-b", "vm_id": 7202, "unprivileged": False},
        {"name": "ct-c", "vm_id": 7203, "nesting": False}]
    cfg = loader.validate(entries, stack="mirkwood", secret_keys=set(SECRETS)).proxmox
    assert [(c.unprivileged, c.nesting) for c in cfg.containers] == [(True, True), (False, False), (True, False)]
