"""Prometheus, Alertmanager, Loki and Alloy."""

from __future__ import annotations

from .base import Model


class Monitoring(Model):
    """Prometheus, Alertmanager, Loki and Alloy (its fields arrive with the layer that deploys it)."""
