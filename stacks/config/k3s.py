"""k3s clusters installed over SSH."""

from __future__ import annotations

from .base import Model


class K3s(Model):
    """k3s clusters installed over SSH (its fields arrive with the layer that deploys it)."""
