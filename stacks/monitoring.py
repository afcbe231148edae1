"""Wiring of monitoring (Prometheus, Alertmanager, Loki, Alloy) and federation."""

from __future__ import annotations

from typing import Any

from .config.model import EnvironmentConfig
from .secrets import Secrets
from .types import Cluster


def deploy(cfg: EnvironmentConfig, secrets: Secrets, cluster: Cluster | None, metrics: Any) -> Any:
    """Deploy monitoring (nothing until the layer lands)."""
    return None
