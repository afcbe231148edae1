"""Wiring of the incus layer from the validated config."""

from __future__ import annotations

from .config.model import EnvironmentConfig
from .secrets import Secrets
from .types import HostRegistry


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry) -> None:
    """Declare the layer's resources and add its hosts to the registry (nothing until the layer lands)."""
