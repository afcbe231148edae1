"""The lab's own DNS: BIND 9 serving the environment's zone, generated from the inventory."""

from .render import Layout, Record, ZoneSpec, LAYOUTS
from .server import DnsServer, DnsServerArgs

__all__ = ["LAYOUTS", "DnsServer", "DnsServerArgs", "Layout", "Record", "ZoneSpec"]
