"""Proxmox VE: nodes, storages, templates, VMs and LXC containers."""

from __future__ import annotations

from .base import Model


class Proxmox(Model):
    """Proxmox VE: nodes, storages, templates, VMs and LXC containers (its fields arrive with the layer that deploys it)."""
