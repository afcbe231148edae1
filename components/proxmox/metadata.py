"""Per-host cloud-init meta-data (NoCloud): the only place a VM's own name goes."""

from __future__ import annotations

import yaml

from cloudinit.render import ProvisionSpec, user_data


def meta_data(*, instance_id: str, hostname: str, fqdn: str) -> str:
    """`local-hostname` as the FQDN: cloud-init sets the short hostname and the FQDN from it."""
    if not fqdn.startswith(f"{hostname}."):
        raise ValueError(f"fqdn {fqdn!r} does not start with the hostname {hostname!r}")
    # One per VM: libyaml's emitter when PyYAML has it (the same text for this document).
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump({"instance-id": instance_id, "local-hostname": fqdn}, Dumper=dumper, sort_keys=True)


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
