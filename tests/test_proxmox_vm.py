"""Vm component: full clone of a template, cloud-init wiring, per-host data kept out of user-data."""

from __future__ import annotations

import re

import pulumi
import pytest
import yaml

from components.proxmox import NetworkArgs, Vm, VmArgs
from components.proxmox.metadata import meta_data
from tests.conftest import registered

VM = "proxmoxve:index/vmLegacy:VmLegacy"
SNIPPET = "proxmoxve:index/fileLegacy:FileLegacy"
NET = NetworkArgs(bridge="vmbr0", vlan_id=40, mtu=1500)


def _vm(name: str, **overrides) -> Vm:
    args = dict(hostname=name, fqdn=f"{name}.mirkwood.lan", node_name="iluvatar", vm_id=7101, template_vm_id=7000,
                template_node_name="iluvatar", datastore_id="local-lvm", snippets_datastore_id="local",
                user_data_file_id="local:snippets/homelab-mirkwood-rocky9-user-data.yaml", network=NET,
                ipv4="10.40.0.21/24", gateway="10.40.0.1", dns_domain="mirkwood.lan", dns_servers=("10.40.0.1",),
                cores=4, memory_mb=8192, disk_gb=40, tags=("mirkwood", "rocky9", "k3s"))
    args.update(overrides)
    return Vm(name, VmArgs(**args))


def _one(name: str, type_: str) -> dict:
    found = [r for r in registered(name, type_) if r["name"] == name]
    assert len(found) == 1, f"{name}: {len(found)} registrations of {type_}"
    return found[0]


@pulumi.runtime.test
def test_vm_is_a_full_clone_with_static_address_dns_and_snippets():
    vm = _vm("vm-static")

    def check(values):
        vm_id, name, ipv4 = values
        assert (vm_id, name, ipv4) == (7101, "vm-static", "10.40.0.21")
        res = _one("vm-static-vm", VM)
        inputs = res["inputs"]
        assert inputs["clone"] == {"vmId": 7000, "nodeName": "iluvatar", "datastoreId": "local-lvm", "full": True}
        assert inputs["nodeName"] == "iluvatar" and inputs["name"] == "vm-static" and inputs["vmId"] == 7101
        assert inputs["description"] == "vm-static.mirkwood.lan: full clone of a cloud-image template, cloud-init"
        assert inputs["cpu"] == {"type": "host", "cores": 4, "sockets": 1, "numa": True}
        assert inputs["memory"] == {"dedicated": 8192, "floating": 8192}
        assert inputs["disks"] == [{"interface": "scsi0", "datastoreId": "local-lvm", "size": 40, "discard": "on",
                                    "ssd": True, "fileFormat": "raw"}]
        assert inputs["networkDevices"] == [{"bridge": "vmbr0", "model": "virtio", "mtu": 1500, "vlanId": 40}]
        meta = _one("vm-static-meta-data-file", SNIPPET)
        init = inputs["initialization"]
        assert init == {
            "datastoreId": "local-lvm",
            "interface": "scsi1",
            "ipConfigs": [{"ipv4": {"address": "10.40.0.21/24", "gateway": "10.40.0.1"}}],
            "dns": {"domain": "mirkwood.lan", "servers": ["10.40.0.1"]},
            "userDataFileId": "local:snippets/homelab-mirkwood-rocky9-user-data.yaml",
            "metaDataFileId": "local:snippets/vm-static-meta-data.yaml",  # stable when the content changes
        }
        assert "userAccount" not in init  # conflicts with user_data_file_id; keys come from user-data
        assert any(dep == meta["urn"] for dep in res["dependencies"])
        assert inputs["onBoot"] is True and inputs["started"] is True
        assert inputs["tags"] == ["k3s", "mirkwood", "rocky9"]
        assert inputs["agent"]["enabled"] is True
        assert inputs["machine"] == "q35" and inputs["bios"] == "ovmf" and inputs["vga"] == {"type": "serial0"}

    return pulumi.Output.all(vm.vm_id, pulumi.Output.from_input(vm.name), vm.ipv4).apply(check)


@pulumi.runtime.test
def test_meta_data_snippet_holds_the_host_identity():
    vm = _vm("vm-meta", vm_id=7102)

    def check(_):
        meta = _one("vm-meta-meta-data-file", SNIPPET)["inputs"]
        assert meta["contentType"] == "snippets" and meta["datastoreId"] == "local" and meta["nodeName"] == "iluvatar"
        assert meta["sourceRaw"]["fileName"] == "vm-meta-meta-data.yaml"
        document = yaml.safe_load(meta["sourceRaw"]["data"])
        # <hostname>-<vmid>-<digest of the network settings>: a new address is a new instance (day 2)
        assert re.fullmatch(r"vm-meta-7102-[0-9a-f]{8}", document.pop("instance-id"))
        assert document == {"local-hostname": "vm-meta.mirkwood.lan"}

    return vm.vm_id.apply(check)


@pulumi.runtime.test
def test_dhcp_vm_reports_the_agents_address():
    vm = _vm("vm-dhcp", ipv4="dhcp", gateway=None)

    def check(ipv4):
        inputs = _one("vm-dhcp-vm", VM)["inputs"]
        assert inputs["initialization"]["ipConfigs"] == [{"ipv4": {"address": "dhcp"}}]
        assert ipv4.startswith("10.") and not ipv4.startswith("127.")

    return vm.ipv4.apply(check)


@pulumi.runtime.test
def test_staging_vm_shuts_down_cleanly_on_destroy_and_is_not_protected():
    vm = _vm("vm-staging", shutdown_timeout=240)

    def check(_):
        res = _one("vm-staging-vm", VM)
        assert res["inputs"]["stopOnDestroy"] is False
        assert res["inputs"]["timeoutShutdownVm"] == 240
        assert res["inputs"]["protection"] is False
        assert res["options"]["protect"] is False

    return vm.vm_id.apply(check)


@pulumi.runtime.test
def test_production_vm_is_protected_in_pulumi_and_proxmox():
    vm = _vm("vm-prod", protect=True)

    def check(_):
        res = _one("vm-prod-vm", VM)
        assert res["options"]["protect"] is True
        assert res["inputs"]["protection"] is True

    return vm.vm_id.apply(check)


def test_static_address_without_gateway_is_refused():
    with pytest.raises(ValueError, match="needs a prefix length and a gateway"):
        VmArgs(hostname="x", fqdn="x.lan", node_name="n", vm_id=1, template_vm_id=2, template_node_name="n",
               datastore_id="d", snippets_datastore_id="s", user_data_file_id="f", network=NET, ipv4="10.0.0.2/24")


def test_meta_data_refuses_an_fqdn_of_another_host():
    assert yaml.safe_load(meta_data(instance_id="a-1", hostname="a", fqdn="a.lan")) == {
        "instance-id": "a-1", "local-hostname": "a.lan"}
    with pytest.raises(ValueError, match="does not start with the hostname"):
        meta_data(instance_id="a-1", hostname="a", fqdn="b.lan")
