"""Per-host cloud-init meta-data (NoCloud): the only place a VM's own name goes."""

from __future__ import annotations

import hashlib
import json

import yaml

from cloudinit.render import ProvisionSpec, user_data


def meta_data(*, instance_id: str, hostname: str, fqdn: str) -> str:
    """`local-hostname` as the FQDN: cloud-init sets the short hostname and the FQDN from it."""
    if not fqdn.startswith(f"{hostname}."):
        raise ValueError(f"fqdn {fqdn!r} does not start with the hostname {hostname!r}")
    # One per VM: libyaml's emitter when PyYAML has it (the same text for this document).
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump({"instance-id": instance_id, "local-hostname": fqdn}, Dumper=dumper, sort_keys=True)


def instance_id(hostname: str, vm_id: int, network: dict) -> str:
    """`<hostname>-<vmid>-<digest of the host's network settings>`.

    cloud-init applies network config (and its per-instance modules) once per instance-id, so an
    edited address, gateway or DNS server reaches an existing guest only with a new id: bpg rebuilds
    the cloud-init drive and reboots the VM when `initialization` changes (proxmoxtf/resource/vm/vm.go,
    RebuildCloudInitDisk, reboot_after_update), and on that boot the new id makes cloud-init apply
    the new network config. Nothing else is in the digest: other edits never re-run cloud-init.
    """
    digest = hashlib.sha256(json.dumps(network, sort_keys=True).encode()).hexdigest()[:8]
    return f"{hostname}-{vm_id}-{digest}"


def shared_user_data(spec: ProvisionSpec) -> str:
    """The base provisioning of `cloudinit.render` for hosts named by their meta-data.

    The spec carries no hostname (it is shared by every VM of a distribution on a node), so the
    renderer leaves /etc/hosts alone; cloud-init must still keep the 127.0.1.1 line for the name
    the meta-data gives, on every boot ("localhost" mode leaves other entries in place).
    """
    if spec.hostname is not None:
        raise ValueError("shared user-data must not name a host; the hostname goes into meta-data")
    text = user_data(spec)
    doc = yaml.safe_load(text)
    if "manage_etc_hosts" in doc:
        return text
    doc["manage_etc_hosts"] = "localhost"
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, width=1000)
