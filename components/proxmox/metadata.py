"""Per-host cloud-init meta-data (NoCloud): the only place a VM's own name goes."""

from __future__ import annotations

import yaml


def meta_data(*, instance_id: str, hostname: str, fqdn: str) -> str:
    """`local-hostname` as the FQDN: cloud-init sets the short hostname and the FQDN from it."""
    if not fqdn.startswith(f"{hostname}."):
        raise ValueError(f"fqdn {fqdn!r} does not start with the hostname {hostname!r}")
    return yaml.safe_dump({"instance-id": instance_id, "local-hostname": fqdn}, sort_keys=True)
