"""Linode: instances behind their firewalls, and the catalog of what Linode offers."""

from .catalog import CLOUD_INIT_IMAGES, REGIONS, TYPES
from .host import TYPE, FirewallRule, LinodeHost, LinodeHostArgs, firewall_inbounds, public_ipv4

__all__ = ["CLOUD_INIT_IMAGES", "REGIONS", "TYPE", "TYPES", "FirewallRule", "LinodeHost", "LinodeHostArgs",
           "firewall_inbounds", "public_ipv4"]
