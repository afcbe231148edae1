"""The stack's outputs: what downstream stacks and tools consume."""

from __future__ import annotations

from typing import Any

import pulumi

from .config.model import EnvironmentConfig
from .types import Cluster, HostRegistry

CONTRACT_VERSION = "1"


def export(cfg: EnvironmentConfig, hosts: HostRegistry, cluster: Cluster | None, metrics: Any, mon: Any) -> None:
    """Export the versioned outputs contract."""
    pulumi.export("contract_version", CONTRACT_VERSION)
    pulumi.export("environment", {"name": cfg.environment.name, "domain": cfg.environment.domain,
                                  "production": cfg.environment.production})
    pulumi.export("inventory", [
        {"name": host.name, "fqdn": host.fqdn, "address": host.address, "platform": host.platform,
         "distribution": host.distribution, "groups": list(host.groups)}
        for host in hosts.all()
    ])
    if metrics is not None:
        pulumi.export("metrics", metrics.outputs())
