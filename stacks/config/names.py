"""Names and addresses the program publishes, and what serves them: the lab DNS (hosts of group
`dns`, components/dns), the k3s front address (VIP or single server), the ingress class and
LoadBalancers of the cluster the services run on.

Checks (every problem at once, like every section):
- a published name (k3s `tls_san` names, Grafana's hostname) lies in the environment's domain and
  some host of group `dns` serves that zone; it is not another host's FQDN;
- `dns_forwarders` does not point back at a `dns` host (a forwarding loop). Hosts resolve
  through the lab DNS: `resolvers()` puts the `dns` hosts of a network before its dns_servers;
- an ingress class is one the cluster runs (k3s's packaged Traefik answers class `traefik`
  unless `disable: [traefik]`), and a LoadBalancer Service has k3s's ServiceLB to serve it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import DeclaredHost, Problem, SecretSpec

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

DNS_GROUP = "dns"
MQTT_GROUP = "mqtt"  # an edge Mosquitto broker (components/mtig/edge.py)
#: Ingress classes each packaged k3s component answers (docs.k3s.io/networking: Traefik is
#: deployed with IngressClass `traefik`; ServiceLB (klipper-lb) serves `type: LoadBalancer`).
PACKAGED_INGRESS = {"traefik": "traefik"}
SERVICE_LB = "servicelb"


@dataclass(frozen=True)
class PublishedName:
    """A DNS name the program hands out, where it is configured and the cluster it points at."""

    path: str
    name: str
    cluster: str  # the k3s cluster whose front address the name resolves to


def dns_hosts(hosts: Iterable[DeclaredHost]) -> list[DeclaredHost]:
    return [host for host in hosts if DNS_GROUP in host.groups]


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def published_names(cfg: "EnvironmentConfig") -> list[PublishedName]:
    """Every DNS name (not address) the config publishes, in config order."""
    found: list[PublishedName] = []
    clusters = cfg.k3s.clusters if cfg.k3s is not None else ()
    for index, cluster in enumerate(clusters):
        for position, san in enumerate(cluster.tls_san):
            if not _is_address(san):
                found.append(PublishedName(f"k3s.clusters[{index}].tls_san[{position}]", san, cluster.name))
        if cluster.vip is not None and not _is_address(cluster.vip):
            found.append(PublishedName(f"k3s.clusters[{index}].vip", cluster.vip, cluster.name))
    if cfg.mtig is not None and cfg.mtig.grafana.hostname and clusters:
        found.append(PublishedName("mtig.grafana.hostname", cfg.mtig.grafana.hostname, clusters[0].name))
    return found


def front_address(cfg: "EnvironmentConfig", cluster_name: str) -> str | None:
    """Where a cluster answers from outside (API, ServiceLB, ingress): its VIP, else its first
    server's configured address (None when that is given by DHCP)."""
    cluster = next(c for c in cfg.k3s.clusters if c.name == cluster_name)
    if cluster.vip is not None:
        return cluster.vip
    hosts = {host.name: host for host in cfg.declared_hosts()}
    first = hosts.get(cluster.servers[0]) if cluster.servers else None
    return first.address if first is not None else None


def relative(name: str, domain: str) -> str | None:
    """`name` relative to `domain` (`@` for the apex), or None when it lies outside it."""
    name, domain = name.rstrip(".").lower(), domain.rstrip(".").lower()
    if name == domain:
        return "@"
    return name[: -len(domain) - 1] if name.endswith("." + domain) else None


def secrets(cfg: "EnvironmentConfig") -> Iterable[SecretSpec]:
    hosts = cfg.declared_hosts()
    brokers = any(MQTT_GROUP in h.groups for h in hosts)
    if dns_hosts(hosts) or brokers:
        yield SecretSpec("sshPrivateKey", "SSH private key of the operator, to set up the lab DNS and brokers over SSH")
    if brokers and cfg.mtig is not None:  # the edge brokers' users are the cluster broker's (homelab:mtig)
        for user in sorted(set(cfg.mtig.mosquitto.users)):
            yield SecretSpec(f"mqttPassword-{user}", f"MQTT password of the Mosquitto user {user}")


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    hosts = cfg.declared_hosts()
    yield from _roles(cfg, hosts)
    yield from _names(cfg, hosts)
    yield from _resolvers(cfg, hosts)
    yield from _served(cfg)
    yield from _vips(cfg, hosts)
    yield from _incus_ports(cfg)


def _roles(cfg: "EnvironmentConfig", hosts: list[DeclaredHost]) -> Iterable[Problem]:
    """A role (dns: BIND; mqtt: edge broker) works on any platform the program reaches over SSH
    and the LAN reaches, with a distribution to install from."""
    services = {DNS_GROUP: "the lab DNS (BIND)", MQTT_GROUP: "an edge MQTT broker"}
    for host in hosts:
        for group in (g for g in (DNS_GROUP, MQTT_GROUP) if g in host.groups):
            inst = cfg.incus.instances.get(host.name) if cfg.incus is not None and host.platform == "incus" else None
            net = cfg.incus.networks.get(inst.network) if inst is not None else None
            if net is not None and net.type == "bridge":
                yield Problem(f"{host.path}.network", inst.network,
                              f"is a NAT bridge: the program sets up {services[group]} over SSH and the LAN "
                              "uses it, neither reaches an instance there; use a macvlan network")
            if host.distribution is None:
                yield Problem(f"{host.path}.groups", list(host.groups),
                              f"group {group!r} needs a system host with a distribution (its packages come from it)")
            if group == MQTT_GROUP and (cfg.mtig is None or cfg.ca is None):
                yield Problem(f"{host.path}.groups", list(host.groups),
                              "group 'mqtt' (edge broker) takes its users and ACL from homelab:mtig and its "
                              "certificate from homelab:ca; configure both")


def _names(cfg: "EnvironmentConfig", hosts: list[DeclaredHost]) -> Iterable[Problem]:
    domain = cfg.environment.domain
    servers = dns_hosts(hosts)
    fqdns = {cfg.environment.fqdn(host.name): host for host in hosts}
    for published in published_names(cfg):
        if relative(published.name, domain) is None:
            yield Problem(published.path, published.name,
                          f"is outside the environment's domain {domain}: no record of the lab DNS serves it")
        elif not servers:
            yield Problem(published.path, published.name,
                          f"no host of group {DNS_GROUP!r} serves the zone {domain}; add the group to a host")
        elif published.name in fqdns:
            yield Problem(published.path, published.name,
                          f"is the FQDN of host {fqdns[published.name].name} ({fqdns[published.name].path})")


def _resolvers(cfg: "EnvironmentConfig", hosts: list[DeclaredHost]) -> Iterable[Problem]:
    servers = {host.address: host for host in dns_hosts(hosts) if host.address}
    for index, forwarder in enumerate(cfg.environment.dns_forwarders):
        if str(forwarder) in servers:
            yield Problem(f"environment.dns_forwarders[{index}]", str(forwarder),
                          f"is the lab DNS host {servers[str(forwarder)].name} itself: a forwarding loop")


def resolvers(cfg: "EnvironmentConfig", network: str, host: str,
              servers: list[DeclaredHost] | None = None) -> tuple[str, ...]:
    """The name servers of a host on `network`: the lab DNS hosts on that network first (not the
    host itself: a DNS host resolves through the others and the upstream until BIND is up), then
    the network's own dns_servers, which keep first boots working before the lab DNS is up."""
    net = cfg.environment.networks[network]
    found: dict[str, None] = {}
    for server in servers if servers is not None else dns_hosts(cfg.declared_hosts()):
        if server.name == host or not server.address:
            continue
        try:
            address = ipaddress.IPv4Address(server.address.split("/")[0])
        except ValueError:
            continue
        if address in net.cidr:
            found.setdefault(str(address), None)
    for address in net.dns_servers:
        found.setdefault(str(address), None)
    return tuple(found)


def _served(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    """Ingress classes and LoadBalancers of the services' cluster have something that serves them."""
    if cfg.k3s is None or not cfg.k3s.clusters:
        return
    cluster = cfg.k3s.clusters[0]
    disabled = set(cluster.disable)
    runs = {cls for cls, component in PACKAGED_INGRESS.items() if component not in disabled}
    if cfg.mtig is not None and cfg.mtig.grafana.hostname:
        wanted = cfg.mtig.grafana.ingress_class
        if wanted is None and not runs:
            yield Problem("mtig.grafana.ingress_class", None,
                          f"no ingress controller runs on cluster {cluster.name} (k3s disable: {sorted(disabled)})")
        elif wanted is not None and wanted not in runs:
            served = ", ".join(sorted(runs)) or f"none (k3s disable: {sorted(disabled)})"
            yield Problem("mtig.grafana.ingress_class", wanted,
                          f"no ingress controller of cluster {cluster.name} serves this class; it runs: {served}")
    if SERVICE_LB in disabled:
        if cfg.mtig is not None and cfg.mtig.mosquitto.expose == "loadbalancer":
            yield Problem("mtig.mosquitto.expose", "loadbalancer",
                          f"cluster {cluster.name} disables servicelb: nothing would give the Service an address")
        if cfg.monitoring is not None and cfg.monitoring.enabled and cfg.monitoring.allowed_sources:
            yield Problem(f"k3s.clusters[0].disable", sorted(disabled),
                          "monitoring publishes Prometheus and Loki through Traefik, whose LoadBalancer Service "
                          "servicelb serves: servicelb must run")


def known_addresses(cfg: "EnvironmentConfig", hosts: list[DeclaredHost]) -> dict[str, str]:
    """Every IPv4 address the config gives to something else, with the field path that holds it."""
    env = cfg.environment
    found: dict[str, str] = {}

    def add(address: object, path: str) -> None:
        if address is not None:
            found.setdefault(str(address).split("/")[0], path)

    for name, network in sorted(env.networks.items()):
        add(network.gateway, f"environment.networks.{name}.gateway")
        for index, server in enumerate(network.dns_servers):
            add(server, f"environment.networks.{name}.dns_servers[{index}]")
    for index, forwarder in enumerate(env.dns_forwarders):
        add(forwarder, f"environment.dns_forwarders[{index}]")
    for host in hosts:
        add(host.address, host.path)
    if cfg.proxmox is not None:
        for index, node in enumerate(cfg.proxmox.nodes):
            add(node.address, f"proxmox.nodes[{index}].address")
    if cfg.incus is not None:
        for name, remote in sorted(cfg.incus.remotes.items()):
            host = remote.address.removeprefix("https://").split(":")[0]
            add(host if _is_address(host) else None, f"incus.remotes.{name}.address")
    return found


def _vips(cfg: "EnvironmentConfig", hosts: list[DeclaredHost]) -> Iterable[Problem]:
    """A VIP is an unused address of the network its servers are on, for an HA cluster only."""
    if cfg.k3s is None:
        return
    known = known_addresses(cfg, hosts)
    by_name = {host.name: host for host in hosts}
    for index, cluster in enumerate(cfg.k3s.clusters):
        if cluster.vip is None:
            continue
        path = f"k3s.clusters[{index}].vip"
        if len(cluster.servers) < 2:
            yield Problem(path, cluster.vip, "a single-server cluster is reached at its server's address; "
                                             "a VIP needs several servers to move between")
            continue
        try:
            vip = ipaddress.IPv4Address(cluster.vip)
        except ValueError:
            yield Problem(path, cluster.vip, "must be an IPv4 address: kube-vip announces it by ARP")
            continue
        host_owner = next((h for h in hosts if h.address and h.address.split("/")[0] == str(vip)), None)
        if str(vip) in known and host_owner is None:  # a host's address: k3s.host_checks says so
            yield Problem(path, cluster.vip, f"is already the address of {known[str(vip)]}")
        networks = [(name, net) for name, net in sorted(cfg.environment.networks.items()) if net.contains(vip)]
        if not networks:
            yield Problem(path, cluster.vip, "is in none of the environment's networks: ARP reaches only the servers' own")
            continue
        net_name, net = networks[0]
        for position, server in enumerate(cluster.servers):
            address = by_name[server].address if server in by_name else None
            try:
                inside = address is not None and ipaddress.IPv4Address(address.split("/")[0]) in net.cidr
            except ValueError:
                inside = False
            if address is not None and not inside:
                yield Problem(f"k3s.clusters[{index}].servers[{position}]", server,
                              f"is not on network {net_name} ({net.cidr}) of the VIP {vip}: it cannot announce it")


#: Ports Incus itself listens on, on the host of a remote: dnsmasq on every managed bridge (DNS,
#: DHCP), started with `--bind-interfaces --interface=<bridge> --listen-address=<bridge address>`
#: (lxc/incus internal/server/network/driver_bridge.go), and the API (core.https_address).
INCUS_DNSMASQ_PORTS = {("tcp", 53): "DNS", ("udp", 53): "DNS", ("udp", 67): "DHCP"}
WILDCARDS = ("0.0.0.0", "[::]", "::")


def _listen(value: str) -> tuple[str, str, int, int] | None:
    """(protocol, address, first port, last port) of a tcp/udp proxy endpoint."""
    protocol, _, rest = value.partition(":")
    if protocol not in ("tcp", "udp"):
        return None
    address, _, ports = rest.rpartition(":")
    first, _, last = ports.partition("-")
    return protocol, address, int(first), int(last or first)


def _incus_ports(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    """A proxy device must not listen where Incus itself does on that host."""
    incus = cfg.incus
    if incus is None:
        return
    bridges = {str(next(net.cidr.hosts())): name for name, net in incus.networks.items()}
    for host, inst in sorted(incus.instances.items()):
        remote = incus.remotes.get(inst.remote)
        api = remote.address.removeprefix("https://") if remote is not None else ""
        api_host, _, api_port = api.partition(":")
        for key, proxy in sorted(inst.proxies.items()):
            parsed = _listen(proxy.listen)
            if parsed is None:
                continue
            protocol, address, first, last = parsed
            path = f"incus.instances.{host}.proxies.{key}.listen"
            for (proto, port), what in sorted(INCUS_DNSMASQ_PORTS.items()):
                if proto != protocol or not first <= port <= last:
                    continue
                if address in WILDCARDS:
                    yield Problem(path, proxy.listen,
                                  f"listens on every address of {inst.remote}'s host on {protocol} port {port}, "
                                  f"where Incus runs dnsmasq ({what}) on each managed bridge; "
                                  "listen on one address of the host")
                elif address in bridges:
                    yield Problem(path, proxy.listen,
                                  f"is the address of Incus network {bridges[address]}, whose dnsmasq serves "
                                  f"{what} on {protocol} port {port}")
            port = int(api_port or 8443)
            if protocol == "tcp" and first <= port <= last and (address in WILDCARDS or address == api_host):
                yield Problem(path, proxy.listen, f"collides with the Incus API of {inst.remote} ({remote.address})")
