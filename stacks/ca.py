"""Wiring of the lab CA: the root and cert-manager on the services' cluster (components/ca)."""

from __future__ import annotations

import pulumi

from components.ca import InternalCa, InternalCaArgs

from .config.model import EnvironmentConfig
from .hosts import Cluster


def deploy(cfg: EnvironmentConfig, cluster: Cluster | None) -> InternalCa | None:
    """The root always; cert-manager and its ClusterIssuer when there is a cluster to run them."""
    if cfg.ca is None:
        return None
    env = cfg.environment
    return InternalCa(
        f"{env.name}-ca",
        InternalCaArgs(
            common_name=cfg.ca.common_name or f"{env.name} lab root CA",
            organization=cfg.ca.organization,
            issuer_name=cfg.ca.issuer_name,
            validity_days=cfg.ca.validity_days,
            protect=env.production,
            cert_manager=cluster is not None,
        ),
        opts=pulumi.ResourceOptions(providers=[cluster.provider]) if cluster is not None else None,
    )
