"""Wiring of the k3s layer from the validated config."""

from __future__ import annotations

from .config.model import EnvironmentConfig
from .secrets import Secrets
from .types import Cluster, HostRegistry


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry) -> Cluster | None:
    """Install the environment's k3s cluster on its hosts (nothing until the layer lands)."""
    return None
