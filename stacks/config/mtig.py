"""The metrics stack: Mosquitto, Telegraf, InfluxDB, Grafana."""

from __future__ import annotations

from .base import Model


class Mtig(Model):
    """The metrics stack: Mosquitto, Telegraf, InfluxDB, Grafana (its fields arrive with the layer that deploys it)."""
