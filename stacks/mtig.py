"""Wiring of the metrics stack (Mosquitto, Telegraf, InfluxDB, Grafana) on the cluster."""

from __future__ import annotations

from typing import Any

from .config.model import EnvironmentConfig
from .secrets import Secrets
from .types import Cluster


def deploy(cfg: EnvironmentConfig, secrets: Secrets, cluster: Cluster | None) -> Any:
    """Deploy the metrics stack (nothing until the layer lands)."""
    return None
