"""Incus: a typed binding of the lxc/incus provider and the components built on it."""

from . import binding, schema
from .container import Container, ContainerArgs, ProxySpec, VolumeSpec
from .site import NetworkSpec, Site, SiteArgs

__all__ = ["Container", "ContainerArgs", "NetworkSpec", "ProxySpec", "Site", "SiteArgs", "VolumeSpec",
           "binding", "schema"]
