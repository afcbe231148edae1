"""`homelab:monitoring` (and the root `homelab:upstream`): Prometheus, Alertmanager, Loki, Alloy.

Runs on the first k3s cluster (without one, set `enabled: false`).

```yaml
homelab:upstream: organization/homelab/mirkwood   # federate this stack's Prometheus and Loki
homelab:monitoring:
  enabled: true
  namespace: monitoring
  prometheus: {retention: 30d, volume_size: 50Gi, storage_class: local-path, scrape_interval: 30s, disk_free_percent: 10}
  loki: {retention: 336h, volume_size: 20Gi, storage_class: local-path}   # retention: whole days
  alertmanager:
    receiver: ops
    receivers:
      - {name: ops, webhook: true, send_resolved: true}  # URL: pulumi config set --secret alertmanagerWebhook-ops URL
      - {name: blackhole}
    routes:
      - {receiver: blackhole, matchers: ['severity="info"'], continue: false}
    group_by: [alertname, environment]
  proxmox: {targets: [10.40.0.2], verify_tls: true,   # token: pveExporterToken (user@realm!id=secret)
            token_id: "pve-exporter-lothlorien@pve!metrics"}  # its identity; required in production
  incus: {targets: ["10.40.0.30:8443"], insecure_skip_verify: false}  # incusMetricsCertificate / incusMetricsKey
  allowed_sources: [10.50.0.0/24]         # may reach Prometheus and Loki from outside (default: nobody)
  node_targets: ["10.40.0.50:9100"]       # node_exporter on hosts outside k3s
  grafana_default: false                  # Prometheus as Grafana's default datasource
  mqtt_exporter: {user: mqtt-exporter}    # a Mosquitto user of mtig with read on $SYS/#
```
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterable, Optional

import pydantic
from pydantic import Field, field_validator

from components.monitoring.render import parse_duration
from .base import API_TOKEN, NO_VALUE, Model, Problem, SecretSpec, has_cluster
from .proxmox import TOKEN_ID

UPSTREAM = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
SIZE = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")
MATCHER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"$')
RECEIVER = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

PVE_TOKEN = "pveExporterToken"
INCUS_CERT = "incusMetricsCertificate"
INCUS_KEY = "incusMetricsKey"


def webhook_secret(receiver: str) -> str:
    """The secret config key that holds a receiver's webhook URL."""
    return f"alertmanagerWebhook-{receiver}"


def mqtt_password(user: str) -> str:
    """The metrics stack's secret key for an MQTT user's password."""
    return f"mqttPassword-{user}"


def _duration(value: str) -> str:
    try:
        parse_duration(value)
    except ValueError:
        raise ValueError(f"retention must be a duration such as 15d, 336h or 1w") from None
    return value


def _size(value: str) -> str:
    if not SIZE.match(value):
        raise ValueError(f"volume_size must be a Kubernetes quantity such as 20Gi")
    return value


class PrometheusConfig(Model):
    retention: str = "15d"
    volume_size: str = "20Gi"
    storage_class: Optional[str] = None
    scrape_interval: str = "30s"
    disk_free_percent: int = Field(default=10, ge=1, le=50)

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        return _duration(value)

    @field_validator("volume_size")
    @classmethod
    def _volume(cls, value: str) -> str:
        return _size(value)


class LokiConfig(Model):
    retention: str = "168h"
    volume_size: str = "10Gi"
    storage_class: Optional[str] = None

    @field_validator("volume_size")
    @classmethod
    def _volume(cls, value: str) -> str:
        return _size(value)

    @field_validator("retention")
    @classmethod
    def _whole_days(cls, value: str) -> str:
        _duration(value)
        if parse_duration(value) % 86400:
            raise ValueError(f"Loki retention must be whole days (24h index period), e.g. 168h or 14d")
        return value


class Receiver(Model):
    name: str
    webhook: bool = False
    send_resolved: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not RECEIVER.match(value):
            raise ValueError(f"receiver name must be lowercase letters, digits and dashes")
        return value


class Route(Model):
    receiver: str
    matchers: list[str] = []
    group_by: list[str] = []
    continue_: bool = Field(default=False, alias="continue")

    model_config = pydantic.ConfigDict(populate_by_name=True)

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        for matcher in value:
            if not MATCHER.match(matcher.strip()):
                raise ValueError(f'matcher {matcher!r} must look like label="value" (=, !=, =~ or !~)')
        return value


class AlertmanagerConfig(Model):
    receiver: str = "default"
    receivers: list[Receiver] = [Receiver(name="default")]
    routes: list[Route] = []
    group_by: list[str] = ["alertname", "environment"]


class TargetsConfig(Model):
    targets: list[str] = []


class ProxmoxTargetsConfig(TargetsConfig):
    # The exporter checks the nodes' certificates (give them one from ACME, Datacenter > ACME, or
    # from a CA the exporter's image trusts); false only when the config says so.
    verify_tls: bool = True
    # USER@REALM!TOKENID of the secret pveExporterToken (not secret itself): the loader checks that the
    # secret carries it and that no staging stack uses a token of a production stack (its exporter's or
    # its Pulumi token). Required in production when there are targets.
    token_id: Optional[str] = None

    @field_validator("token_id")
    @classmethod
    def _token_id(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(TOKEN_ID, value):
            raise ValueError("is not a Proxmox API token id USER@REALM!TOKENID, e.g. pve-exporter-mirkwood@pve!metrics")
        return value


class IncusConfig(TargetsConfig):
    # Prometheus checks the Incus servers' certificates; true (skip) only when the config says so.
    insecure_skip_verify: bool = False


class MqttExporterConfig(Model):
    # An MQTT user of the metrics stack allowed to read $SYS/#; its password is mqttPassword-<user>.
    user: str


class Monitoring(Model):
    enabled: bool = True
    namespace: str = "monitoring"
    prometheus: PrometheusConfig = PrometheusConfig()
    loki: LokiConfig = LokiConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    proxmox: Optional[ProxmoxTargetsConfig] = None
    incus: Optional[IncusConfig] = None
    # node_exporter on hosts outside k3s (host:port), watched by HostDown as job "hosts".
    node_targets: list[str] = []
    # Whether the local Prometheus is Grafana's default datasource.
    grafana_default: bool = True
    mqtt_exporter: Optional[MqttExporterConfig] = None
    # Sources allowed to reach Prometheus and Loki from outside the cluster (the network of the
    # environment that federates this one). Empty: both stay inside the cluster. Alertmanager never
    # leaves it.
    allowed_sources: list[ipaddress.IPv4Network] = []

    @pydantic.field_validator("allowed_sources")
    @classmethod
    def _not_everyone(cls, value: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        if any(net.prefixlen == 0 for net in value):
            raise ValueError("may not include 0.0.0.0/0: name the networks that need Prometheus and Loki")
        return value


def checks(cfg) -> Iterable[Problem]:
    upstream = getattr(cfg, "upstream", None)
    env = cfg.environment.name
    if upstream:
        if not UPSTREAM.match(upstream):
            yield Problem("upstream", upstream, "must be a stack reference organization/project/stack, e.g. organization/homelab/mirkwood")
        elif upstream.rsplit("/", 1)[1] == env:
            yield Problem("upstream", upstream, f"names this same stack ({env}); an environment cannot federate itself")
    mon: Optional[Monitoring] = getattr(cfg, "monitoring", None)
    if mon is None:
        return
    if mon.enabled and not has_cluster(cfg):
        yield Problem("monitoring", NO_VALUE, "runs on the first k3s cluster, and k3s.clusters declares none: "
                      "add a cluster, or set monitoring.enabled: false")
    if mon.enabled and mon.mqtt_exporter is not None:
        mosquitto = getattr(getattr(cfg, "mtig", None), "mosquitto", None)
        users = tuple(getattr(mosquitto, "users", ()))
        if mon.mqtt_exporter.user not in users:
            known = f"users: {', '.join(users)}" if users else "mtig is not configured"
            yield Problem("monitoring.mqtt_exporter.user", mon.mqtt_exporter.user,
                          f"is not a Mosquitto user of the metrics stack ({known}); the exporter logs in with it")
    if (mon.enabled and mon.proxmox and mon.proxmox.targets and mon.proxmox.token_id is None
            and cfg.environment.production):
        yield Problem("monitoring.proxmox.token_id", None, "is required in production: the identity "
                      f"USER@REALM!TOKENID of {PVE_TOKEN}, so that no staging stack can use the same token")
    if upstream and not mon.enabled:
        yield Problem("monitoring.enabled", mon.enabled, "federating an upstream needs this environment's monitoring enabled")
    mtig = getattr(cfg, "mtig", None)
    grafana = getattr(mtig, "grafana", None)
    if mon.enabled and mon.grafana_default and grafana is not None:
        others = (["InfluxDB"] if getattr(grafana, "influxdb_default", False) else []) + [
            d.name for d in getattr(grafana, "datasources", ()) if getattr(d, "is_default", False)
        ]
        if others:
            yield Problem(
                "monitoring.grafana_default",
                True,
                f"Grafana would get two default datasources (Prometheus and {', '.join(others)}): "
                "set mtig.grafana.influxdb_default: false or monitoring.grafana_default: false",
            )
    am = mon.alertmanager
    names = [r.name for r in am.receivers]
    for i, name in enumerate(names):
        if name in names[:i]:
            yield Problem(f"monitoring.alertmanager.receivers[{i}].name", name, "duplicate receiver name")
    defined = sorted(set(names))
    if am.receiver not in defined:
        yield Problem("monitoring.alertmanager.receiver", am.receiver, f"receiver is not defined (defined: {', '.join(defined)})")
    for i, route in enumerate(am.routes):
        if route.receiver not in defined:
            yield Problem(
                f"monitoring.alertmanager.routes[{i}].receiver",
                route.receiver,
                f"receiver is not defined (defined: {', '.join(defined)})",
            )


def secrets(cfg) -> Iterable[SecretSpec]:
    mon: Optional[Monitoring] = getattr(cfg, "monitoring", None)
    if mon is None or not mon.enabled or not has_cluster(cfg):  # nothing is deployed without a cluster
        return
    for receiver in mon.alertmanager.receivers:
        if receiver.webhook:
            yield SecretSpec(webhook_secret(receiver.name), f"Alertmanager webhook URL of receiver {receiver.name}")
    if mon.proxmox and mon.proxmox.targets:
        token = dict(API_TOKEN)
        if mon.proxmox.token_id is not None:
            # A stand-in (the offline synth) carries the declared identity, as the real token must.
            token["template"] = mon.proxmox.token_id + "={}"
        yield SecretSpec(PVE_TOKEN, "Proxmox API token for the PVE exporter (user@realm!tokenid=secret, PVEAuditor)",
                         **token)
    if mon.mqtt_exporter:
        yield SecretSpec(mqtt_password(mon.mqtt_exporter.user), f"MQTT password of {mon.mqtt_exporter.user} (Mosquitto exporter)")
    if mon.incus and mon.incus.targets:
        yield SecretSpec(INCUS_CERT, "Incus metrics client certificate (PEM, trusted with type metrics)")
        yield SecretSpec(INCUS_KEY, "Incus metrics client key (PEM)")
