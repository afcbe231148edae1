"""Lxc component: a container from a downloaded vztmpl, unprivileged by default."""

from __future__ import annotations

import pulumi
import pytest

from components.catalog import CATALOG
from components.proxmox import Image, ImageArgs, Lxc, LxcArgs, NetworkArgs
from tests.conftest import registered

CT = "proxmoxve:index/containerLegacy:ContainerLegacy"
DOWNLOAD = "proxmoxve:download/file:File"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"


def _one(name: str, type_: str) -> dict:
    found = [r for r in registered(name, type_) if r["name"] == name]
    assert len(found) == 1, f"{name}: {len(found)} registrations of {type_}"
    return found[0]


def _lxc(name: str, template_file_id, **overrides) -> Lxc:
    args = dict(hostname=name, node_name="iluvatar", vm_id=7201, template_file_id=template_file_id, os_type="debian",
                datastore_id="local-lvm", network=NetworkArgs("vmbr0", 40, 1500), ssh_authorized_keys=(KEY,),
                ipv4="10.40.0.10/24", gateway="10.40.0.1", dns_domain="mirkwood.lan", dns_servers=("10.40.0.1",),
                cores=2, memory_mb=1024, swap_mb=256, disk_gb=10, tags=("mirkwood", "dns"))
    args.update(overrides)
    return Lxc(name, LxcArgs(**args))


@pulumi.runtime.test
def test_container_from_downloaded_vztmpl_unprivileged_by_default():
    image = Image("ct-img", ImageArgs(node_name="iluvatar", datastore_id="local", image=CATALOG["debian12"].lxc_template))
    ct = _lxc("ct-default", image.file_id)

    def check(values):
        file_id, ipv4, _ = values
        download = _one("ct-img-file", DOWNLOAD)["inputs"]
        lxc_template = CATALOG["debian12"].lxc_template
        assert download["contentType"] == "vztmpl"
        assert (download["url"], download["checksum"], download["checksumAlgorithm"]) == (
            lxc_template.url, lxc_template.checksum, "sha512")
        res = _one("ct-default-ct", CT)
        inputs = res["inputs"]
        assert inputs["operatingSystem"] == {"templateFileId": file_id, "type": "debian"}
        assert inputs["unprivileged"] is True
        # Unprivileged Debian 12 needs nesting for its systemd units (credentials, private mounts).
        assert inputs["features"] == {"nesting": True}
        assert inputs["initialization"] == {
            "hostname": "ct-default",
            "userAccount": {"keys": [KEY]},
            "ipConfigs": [{"ipv4": {"address": "10.40.0.10/24", "gateway": "10.40.0.1"}}],
            "dns": {"domain": "mirkwood.lan", "servers": ["10.40.0.1"]},
        }
        assert inputs["networkInterfaces"] == [{"name": "eth0", "bridge": "vmbr0", "vlanId": 40, "mtu": 1500}]
        assert inputs["disk"] == {"datastoreId": "local-lvm", "size": 10}
        assert inputs["memory"] == {"dedicated": 1024, "swap": 256}
        assert inputs["cpu"] == {"cores": 2}
        assert inputs["tags"] == ["dns", "mirkwood"]
        assert inputs["startOnBoot"] is True
        assert res["options"]["protect"] is False
        assert ipv4 == "10.40.0.10"

    return pulumi.Output.all(image.file_id, ct.ipv4, ct.vm_id).apply(check)


@pulumi.runtime.test
def test_no_nesting_for_a_privileged_container_or_when_turned_off():
    privileged = _lxc("ct-priv", "local:vztmpl/x.tar.zst", unprivileged=False)
    off = _lxc("ct-off", "local:vztmpl/x.tar.zst", nesting=False)

    def check(_):
        assert "features" not in _one("ct-priv-ct", CT)["inputs"]
        assert "features" not in _one("ct-off-ct", CT)["inputs"]

    return pulumi.Output.all(privileged.vm_id, off.vm_id).apply(check)


@pulumi.runtime.test
def test_nesting_when_asked_and_protected_in_production():
    ct = _lxc("ct-nested", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", nesting=True, protect=True)

    def check(_):
        res = _one("ct-nested-ct", CT)
        assert res["inputs"]["features"] == {"nesting": True}
        assert res["inputs"]["protection"] is True
        assert res["options"]["protect"] is True

    return ct.vm_id.apply(check)


@pulumi.runtime.test
def test_dhcp_container_reports_its_eth0_address():
    ct = _lxc("ct-dhcp", "local:vztmpl/x.tar.zst", ipv4="dhcp", gateway=None)

    def check(ipv4):
        assert _one("ct-dhcp-ct", CT)["inputs"]["initialization"]["ipConfigs"] == [{"ipv4": {"address": "dhcp"}}]
        assert ipv4.startswith("10.")

    return ct.ipv4.apply(check)


def test_container_without_keys_is_refused():
    with pytest.raises(ValueError, match="SSH public key"):
        LxcArgs(hostname="x", node_name="n", vm_id=1, template_file_id="t", os_type="debian", datastore_id="d",
                network=NetworkArgs("vmbr0", None, 1500), ssh_authorized_keys=())
