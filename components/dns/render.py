"""Pure renderers of the lab DNS: named.conf, the zone file and the install script.

Why BIND 9: the lab's hosts run Debian 12 and Rocky 9/10, and both package it from their own
repositories (Debian `bind9` + `bind9-utils`, Rocky `bind` + `bind-utils`), with the checkers
`named-checkconf` and `named-checkzone` that the tests run on every rendered file. One program is
both the authoritative server for the environment's domain and the forwarding resolver for the
rest. CoreDNS (the seed's choice) is not packaged by Debian; NSD + unbound would be two daemons
for what one does here.

The serial is derived from the zone's content (a hash of the records): it changes when, and only
when, a record does, without state on the host or in Pulumi. The zone has one primary per `dns`
host and no secondaries (no zone transfers), so the serial never has to compare as "newer"
(RFC 1982); add secondaries and it has to become a stored, increasing counter.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from components import ssh

TEMPLATES = Path(__file__).parent / "templates"
ZONE_DELIMITER = "HOMELAB_DNS_ZONE"
CONF_DELIMITER = "HOMELAB_DNS_CONF"
TTL = 300
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["q"] = lambda value: shlex.quote(str(value))


@dataclass(frozen=True)
class Layout:
    """Where a distribution's BIND package keeps its files, and what it is called."""

    packages: tuple[str, ...]
    config: str  # the file named reads (the package's default)
    zone_dir: str  # primary zones live here (writable by the named user)
    directory: str  # named's working directory
    service: str = "named"
    install: str = "apt"  # apt | dnf


#: Debian: bind9's named.service reads /etc/bind/named.conf; zones under /var/lib/bind (bind-owned).
#: Rocky: bind's named.service reads /etc/named.conf; zones under /var/named.
LAYOUTS: dict[str, Layout] = {
    "debian": Layout(packages=("bind9", "bind9-utils"), config="/etc/bind/named.conf",
                     zone_dir="/var/lib/bind", directory="/var/cache/bind", install="apt"),
    "rhel": Layout(packages=("bind", "bind-utils"), config="/etc/named.conf",
                   zone_dir="/var/named", directory="/var/named", install="dnf"),
}


@dataclass(frozen=True, order=True)
class Record:
    """One A record: a name relative to the zone (`@` for the apex) and an IPv4 address."""

    name: str
    address: str

    def __post_init__(self) -> None:
        if self.name != "@" and not all(_LABEL.match(label) for label in self.name.split(".")):
            raise ValueError(f"DNS record name {self.name!r} is not made of lowercase RFC 1123 labels")
        ipaddress.IPv4Address(self.address)


@dataclass(frozen=True)
class ZoneSpec:
    """The environment's zone: its records, name servers (host names inside the zone) and what
    the server forwards the rest to."""

    domain: str
    records: tuple[Record, ...]
    nameservers: tuple[str, ...]  # relative names, each with an A record
    forwarders: tuple[str, ...]
    clients: tuple[str, ...] = ()  # networks allowed to query and recurse (CIDR)
    port: int = 53
    listen: tuple[str, ...] = ("any",)
    extra_options: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.nameservers:
            raise ValueError(f"zone {self.domain}: at least one name server is needed")
        names = {r.name for r in self.records}
        for ns in self.nameservers:
            if ns not in names:
                raise ValueError(f"zone {self.domain}: name server {ns!r} has no A record")


def relative(name: str, domain: str) -> str | None:
    """`name` relative to `domain` (`@` for the apex), or None when it lies outside it."""
    name, domain = name.rstrip(".").lower(), domain.rstrip(".").lower()
    if name == domain:
        return "@"
    if name.endswith("." + domain):
        return name[: -len(domain) - 1]
    return None


def unique_records(records: Iterable[Record]) -> tuple[Record, ...]:
    """Sorted and without duplicates: the same inventory in any order gives the same zone."""
    return tuple(sorted(set(records)))


def serial(records: Sequence[Record], nameservers: Sequence[str]) -> int:
    """A serial that changes exactly when the zone's content does: 1..2^31-1 from a SHA-256."""
    body = "\n".join([*(f"NS {n}" for n in nameservers), *(f"A {r.name} {r.address}" for r in records)])
    value = int(hashlib.sha256(body.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF
    return value or 1


def zone_file(spec: ZoneSpec) -> str:
    records = unique_records(spec.records)
    width = max(len(r.name) for r in records) if records else 1
    return _ENV.get_template("db.zone.j2").render(
        domain=spec.domain, ttl=TTL, serial=serial(records, spec.nameservers),
        primary=spec.nameservers[0], nameservers=spec.nameservers, records=records, width=width)


def zone_path(spec: ZoneSpec, layout: Layout) -> str:
    return f"{layout.zone_dir}/db.{spec.domain}"


def named_conf(spec: ZoneSpec, layout: Layout, pid_file: str | None = None) -> str:
    return _ENV.get_template("named.conf.j2").render(
        domain=spec.domain, zone_path=zone_path(spec, layout), directory=layout.directory,
        forwarders=spec.forwarders, clients=spec.clients, port=spec.port, listen=spec.listen,
        pid_file=pid_file)


def install_script(spec: ZoneSpec, layout: Layout) -> str:
    """The idempotent script a `dns` host runs as root: install BIND, write config and zone,
    check them with BIND's own checkers, restart only when a file changed."""
    conf, zone = named_conf(spec, layout), zone_file(spec)
    for text, delimiter in ((conf, CONF_DELIMITER), (zone, ZONE_DELIMITER)):
        if delimiter in text:
            raise ValueError(f"rendered DNS file contains the heredoc delimiter {delimiter}")
    return _ENV.get_template("install.sh.j2").render(
        layout=layout, domain=spec.domain, conf=conf.rstrip("\n"), zone=zone.rstrip("\n"),
        zone_path=zone_path(spec, layout))


def remote_command(ssh_user: str) -> str:
    """The command line: the script comes on stdin (it may be long), run as root."""
    return ssh.as_root(["bash", "-s"], ssh_user)
