"""Wiring of the edge MQTT broker role: every host of group `mqtt` (any platform) runs Mosquitto
with the cluster broker's users, ACL and passwords (homelab:mtig) and a certificate from the lab
CA (homelab:ca), for sensors outside the cluster."""

from __future__ import annotations

import ipaddress

from components.ca import InternalCa, ServerCertificate, ServerCertificateArgs
from components.catalog import CATALOG
from components.mtig.edge import TLS_PORT, EdgeBroker, EdgeBrokerArgs

from .config.model import EnvironmentConfig
from .config.mtig import password_key
from .config.names import MQTT_GROUP
from .hosts import HostRegistry, connection
from .mtig import mqtt_users
from .secrets import Secrets


def _ip(value: object) -> tuple[str, ...]:
    try:
        return (str(ipaddress.IPv4Address(str(value).split("/")[0])),)
    except ValueError:
        return ()


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry, lab_ca: InternalCa | None) -> list[str]:
    """The edge brokers; returns their mqtts:// URLs (validation makes sure mtig and ca exist)."""
    brokers = [host for host in hosts.all() if MQTT_GROUP in host.groups]
    if not brokers or cfg.mtig is None or lab_ca is None:
        return []
    users = mqtt_users(cfg.mtig)
    passwords = {user: secrets.require(password_key(user)) for user in cfg.mtig.mosquitto.users}
    private_key = secrets.require("sshPrivateKey")
    urls = []
    for host in brokers:
        static = next((h.address for h in _declared(cfg) if h.name == host.name), None)
        cert = ServerCertificate(f"{host.name}-mqtt-tls", ServerCertificateArgs(
            ca_key_pem=lab_ca.key_pem, ca_cert_pem=lab_ca.root_pem, common_name=host.fqdn,
            dns_names=(host.fqdn, host.name), ip_addresses=_ip(static) if static else ()))
        EdgeBroker(f"{host.name}-edge", EdgeBrokerArgs(
            connection=connection(host, private_key), ssh_user=host.ssh_user,
            family=CATALOG[host.distribution].family, users=users, passwords=passwords,
            cert_pem=cert.cert_pem, key_pem=cert.key_pem, ca_pem=lab_ca.root_pem, ready=host.ready))
        urls.append(f"mqtts://{host.fqdn}:{TLS_PORT}")
    return urls


def _declared(cfg: EnvironmentConfig):
    from .config.model import declared_hosts

    return declared_hosts(cfg)
