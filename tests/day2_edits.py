"""The everyday edits of a stack file, as functions on its `config:` mapping (tests/test_day2.py).

Each edit gets the environment's name and the parsed config (full keys: `homelab:proxmox`, ...),
changes it in place, and is applicable only where the environment has what it edits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Config = dict[str, Any]

NEW_OPERATOR_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3wqQ0d2ay2dmn8kZ2y7b9Sx4eWw4i1pOJ6d6u5aNqY operator@rotated"


@dataclass(frozen=True)
class ConfigEdit:
    name: str
    apply: Callable[[str, Config], None]
    needs: tuple[str, ...] = ()  # config sections the edit needs
    secrets: tuple[str, ...] = field(default=())  # secret keys it rotates instead (no config change)


def vm(config: Config, name: str) -> dict[str, Any]:
    return next(v for v in config["homelab:proxmox"]["vms"] if v["name"] == name)


def first_agent_vm(env: str) -> str:
    return f"{env}-k3s-a1"


def _key(env: str, c: Config) -> None:
    c["homelab:environment"]["operator"]["ssh_authorized_keys"] = [NEW_OPERATOR_KEY]


def _timezone(env: str, c: Config) -> None:
    c["homelab:environment"]["timezone"] = "Europe/Paris"


def _address(env: str, c: Config) -> None:
    vm(c, first_agent_vm(env))["ipv4"] = "10.40.0.41" if env == "mirkwood" else "10.50.0.41"


def _size(env: str, c: Config) -> None:
    vm(c, first_agent_vm(env)).update(cores=6, memory_mb=12288)


NEW_NODE = {"name": "aule", "address": "10.20.0.29"}


def _node(env: str, c: Config) -> None:
    c["homelab:proxmox"]["nodes"].append(dict(NEW_NODE))


NEW_AGENT = "k3s-a9"


def _agent(env: str, c: Config) -> None:
    px = c["homelab:proxmox"]
    first = px["vmid_range"]["first"]
    template = vm(c, first_agent_vm(env))
    px["vms"].append({**template, "name": f"{env}-{NEW_AGENT}", "vm_id": first + 190,
                      "ipv4": "10.40.0.39" if env == "mirkwood" else "10.50.0.39"})
    c["homelab:k3s"]["clusters"][0]["agents"].append(f"{env}-{NEW_AGENT}")


def _k3s_patch(env: str, c: Config) -> None:
    cluster = c["homelab:k3s"]["clusters"][0]
    assert cluster["version"] == "v1.31.4+k3s1", "the edit bumps the patch of the committed version"
    cluster["version"] = "v1.31.5+k3s1"


def _retention(env: str, c: Config) -> None:
    c["homelab:mtig"]["influxdb"]["retention"] = "400d"


def _bucket(env: str, c: Config) -> None:
    c["homelab:mtig"]["influxdb"]["bucket"] = "sensors-v2"


def _grafana_hostname(env: str, c: Config) -> None:
    c["homelab:mtig"]["grafana"]["hostname"] = f"graphs.{env}.lan"


def _snapshots(env: str, c: Config) -> None:
    c["homelab:incus"]["instances"]["prometheus"]["data"]["snapshots"]["schedule"] = "0 4 * * *"


NEW_INCUS_INSTANCE = "grocy"


def _incus_instance(env: str, c: Config) -> None:
    c["homelab:incus"]["instances"][NEW_INCUS_INSTANCE] = {
        "remote": "cluster01", "network": "production", "address": "10.10.0.20", "memory": "512MiB",
        "groups": ["apps"]}


def _linode_port(env: str, c: Config) -> None:
    c["homelab:linode"]["instances"][0]["services"].append({"label": "smtp", "protocol": "TCP", "ports": "25"})


EDITS = {
    edit.name: edit for edit in (
        ConfigEdit("rotate the operator SSH key", _key),
        ConfigEdit("change the timezone", _timezone),
        ConfigEdit("change one VM's address", _address, ("homelab:proxmox",)),
        ConfigEdit("change one VM's cores and memory", _size, ("homelab:proxmox",)),
        ConfigEdit("add a Proxmox node", _node, ("homelab:proxmox",)),
        ConfigEdit("add a k3s agent", _agent, ("homelab:proxmox", "homelab:k3s")),
        ConfigEdit("bump the k3s patch version", _k3s_patch, ("homelab:k3s",)),
        ConfigEdit("change InfluxDB retention", _retention, ("homelab:mtig",)),
        ConfigEdit("rename the bucket", _bucket, ("homelab:mtig",)),
        ConfigEdit("change the Grafana hostname", _grafana_hostname, ("homelab:mtig",)),
        ConfigEdit("change an Incus volume's snapshot schedule", _snapshots, ("homelab:incus",)),
        ConfigEdit("add an Incus instance", _incus_instance, ("homelab:incus",)),
        ConfigEdit("add a Linode service port", _linode_port, ("homelab:linode",)),
    )
}

# Secrets by kind: rotating one gives it a new value on the edited side only.
SECRET_KINDS = {
    "MQTT user": "mqttPassword-telegraf",
    "MQTT exporter user": "mqttPassword-mqtt-exporter",
    "InfluxDB operator token": "influxdbOperatorToken",
    "InfluxDB admin password": "influxdbAdminPassword",
    "Grafana admin": "grafanaAdminPassword",
    "Alertmanager webhook": "alertmanagerWebhook-ops",
    "Proxmox API token": "proxmoxApiToken",
    "PVE exporter token": "pveExporterToken",
    "Incus metrics certificate": "incusMetricsCertificate",
}


def rotated(value: str) -> str:
    """Another value of the same form (an API token keeps USER@REALM!TOKENID=)."""
    return value.replace("synth-placeholder", "rotated-value") if "synth-placeholder" in value else value + "-rotated"
