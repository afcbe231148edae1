"""Hosts that exist already (bare metal, Raspberry Pi, machines built elsewhere)."""

from __future__ import annotations

from .base import Model


class OnboardHost(Model):
    """An existing host provisioned over SSH (its fields arrive with the onboarding layer)."""
