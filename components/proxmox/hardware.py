"""The VM hardware every template and clone shares (the seed's `qm create` line, as provider inputs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BOOT_DISK = "scsi0"
CLOUD_INIT_INTERFACE = "scsi1"


@dataclass(frozen=True)
class NetworkArgs:
    """Where a guest's NIC attaches: bridge, VLAN tag (None: untagged) and the bridge's MTU."""

    bridge: str
    vlan_id: int | None
    mtu: int


def vm_hardware(*, cores: int, memory_mb: int, datastore_id: str, network: NetworkArgs, os_type: str) -> dict[str, Any]:
    """q35 + OVMF (EFI disk, keys not pre-enrolled), host CPU with NUMA, ballooning memory,
    virtio-scsi, serial console shown as VGA, guest agent, one virtio NIC."""
    nic: dict[str, Any] = {"bridge": network.bridge, "model": "virtio", "mtu": network.mtu}
    if network.vlan_id is not None:
        nic["vlan_id"] = network.vlan_id
    return {
        "machine": "q35",
        "bios": "ovmf",
        "efi_disk": {"datastore_id": datastore_id, "file_format": "raw", "type": "4m", "pre_enrolled_keys": False},
        "cpu": {"type": "host", "cores": cores, "sockets": 1, "numa": True},
        # floating == dedicated: the balloon device is on and may reclaim down to it (qm --balloon).
        "memory": {"dedicated": memory_mb, "floating": memory_mb},
        "scsi_hardware": "virtio-scsi-pci",
        "serial_devices": [{"device": "socket"}],
        "vga": {"type": "serial0"},
        "agent": {"enabled": True, "trim": True},
        "network_devices": [nic],
        "operating_system": {"type": os_type},
    }


def boot_disk(*, datastore_id: str, size_gb: int, import_from: Any = None) -> dict[str, Any]:
    """The boot disk on virtio-scsi with discard, optionally imported from a downloaded image."""
    disk: dict[str, Any] = {
        "interface": BOOT_DISK,
        "datastore_id": datastore_id,
        "size": size_gb,
        "discard": "on",
        "ssd": True,
        "file_format": "raw",
    }
    if import_from is not None:
        disk["import_from"] = import_from
    return disk


def sorted_tags(*groups: tuple[str, ...] | list[str]) -> list[str]:
    """Proxmox stores tags sorted and lowercase: anything else diffs on every run."""
    return sorted({tag.lower() for group in groups for tag in group})
