"""Template component: the cloud image download and the template's hardware, as registered."""

from __future__ import annotations

import pulumi

from components.catalog import CATALOG
from components.proxmox import NetworkArgs, Template, TemplateArgs
from components.proxmox.template import TEMPLATE_TYPE
from tests.conftest import registered

VM = "proxmoxve:index/vmLegacy:VmLegacy"
DOWNLOAD = "proxmoxve:download/file:File"
NET = NetworkArgs(bridge="vmbr1", vlan_id=40, mtu=9000)


def _template(name: str, distribution: str = "rocky9", **overrides) -> Template:
    args = dict(node_name="iluvatar", vm_id=7000, distribution=CATALOG[distribution], datastore_id="local-lvm",
                image_datastore_id="local", network=NET, cores=4, memory_mb=4096, disk_gb=12, tags=("mirkwood",))
    args.update(overrides)
    return Template(name, TemplateArgs(**args))


def _one(name: str, type_: str) -> dict:
    found = [r for r in registered(name, type_) if r["name"] == name]
    assert len(found) == 1, f"{name}: {len(found)} registrations of {type_}"
    return found[0]


@pulumi.runtime.test
def test_image_is_downloaded_for_import_with_the_catalog_checksum():
    tpl = _template("tpl-img", "debian12")

    def check(_):
        image = _one("tpl-img-image", DOWNLOAD)["inputs"]
        debian = CATALOG["debian12"].image
        assert image == {
            "nodeName": "iluvatar", "datastoreId": "local", "contentType": "import",
            "url": debian.url, "fileName": debian.file_name,
            "checksum": debian.checksum, "checksumAlgorithm": "sha512", "uploadTimeout": 1800,
        }

    return tpl.image_id.apply(check)


@pulumi.runtime.test
def test_template_hardware_matches_the_seed():
    tpl = _template("tpl-hw")

    def check(values):
        vm_id, image_id = values
        res = _one("tpl-hw-template", VM)
        inputs = res["inputs"]
        assert vm_id == 7000
        assert image_id == f"local:import/{CATALOG['rocky9'].image.file_name}"
        assert inputs["template"] is True and inputs["started"] is False
        assert inputs["machine"] == "q35"
        assert inputs["bios"] == "ovmf"
        assert inputs["efiDisk"] == {"datastoreId": "local-lvm", "fileFormat": "raw", "type": "4m",
                                     "preEnrolledKeys": False}
        assert inputs["cpu"] == {"type": "host", "cores": 4, "sockets": 1, "numa": True}
        assert inputs["memory"] == {"dedicated": 4096, "floating": 4096}
        assert inputs["scsiHardware"] == "virtio-scsi-pci"
        assert inputs["disks"] == [{"interface": "scsi0", "datastoreId": "local-lvm", "importFrom": image_id,
                                    "size": 12, "discard": "on", "ssd": True, "fileFormat": "raw"}]
        assert inputs["bootOrders"] == ["scsi0"]
        assert inputs["serialDevices"] == [{"device": "socket"}]
        assert inputs["vga"] == {"type": "serial0"}
        assert inputs["agent"]["enabled"] is True
        assert inputs["networkDevices"] == [{"bridge": "vmbr1", "model": "virtio", "mtu": 9000, "vlanId": 40}]
        assert inputs["initialization"] == {"datastoreId": "local-lvm", "interface": "scsi1",
                                            "ipConfigs": [{"ipv4": {"address": "dhcp"}}]}
        assert inputs["operatingSystem"] == {"type": "l26"}
        assert inputs["tags"] == ["cloudinit", "mirkwood", "rocky-template", "rocky9"]
        assert inputs["name"] == "rocky9-template"
        # the import waits for the download: the data (its id) orders it
        assert any(dep.endswith("::tpl-hw-image") for dep in res["dependencies"])

    return pulumi.Output.all(tpl.vm_id, tpl.image_id).apply(check)


@pulumi.runtime.test
def test_template_is_rebuilt_on_any_change_and_old_one_deleted_first():
    tpl = _template("tpl-rebuild", "rocky10", vm_id=7001, protect=True)

    def check(_):
        res = _one("tpl-rebuild-template", VM)
        assert res["options"]["replace_on_changes"] == ["*"]
        assert res["options"]["delete_before_replace"] is True
        assert res["options"]["protect"] is True
        assert res["inputs"]["tags"] == ["cloudinit", "mirkwood", "rocky-template", "rocky10"]
        assert res["inputs"]["vmId"] == 7001

    return tpl.vm_id.apply(check)


@pulumi.runtime.test
def test_untagged_network_has_no_vlan_and_children_are_parented():
    tpl = _template("tpl-untagged", network=NetworkArgs(bridge="vmbr0", vlan_id=None, mtu=1500))

    def check(_):
        res = _one("tpl-untagged-template", VM)
        assert res["inputs"]["networkDevices"] == [{"bridge": "vmbr0", "model": "virtio", "mtu": 1500}]
        parent = [r for r in registered("tpl-untagged", TEMPLATE_TYPE)]
        assert len(parent) == 1
        assert res["parent"] == parent[0]["urn"]
        assert _one("tpl-untagged-image", DOWNLOAD)["parent"] == parent[0]["urn"]

    return tpl.vm_id.apply(check)
