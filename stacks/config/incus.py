"""Incus remotes, profiles, instances and volumes."""

from __future__ import annotations

from .base import Model


class Incus(Model):
    """Incus remotes, profiles, instances and volumes (its fields arrive with the layer that deploys it)."""
