"""Existing hosts (bare metal, Raspberry Pi, machines built elsewhere) provisioned over SSH."""

from .host import READY_CHECK, TYPE, OnboardedHost, OnboardedHostArgs, ready_check

__all__ = ["READY_CHECK", "TYPE", "OnboardedHost", "OnboardedHostArgs", "ready_check"]
