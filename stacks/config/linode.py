"""Linode instances and their firewalls."""

from __future__ import annotations

from .base import Model


class Linode(Model):
    """Linode instances and their firewalls (its fields arrive with the layer that deploys it)."""
