"""The metrics stack: Mosquitto, Telegraf, InfluxDB, Grafana (config section `mtig`).

Runs in one namespace of the first k3s cluster (without a cluster it is an error).

```yaml
homelab:mtig:
  namespace: mtig
  storage_class: local-path            # optional; default: the cluster's default class
  mosquitto:
    users: [telegraf, sensor-garage]   # each has the secret mqttPassword-<user>
    acl:                               # every user needs an entry
      - {user: telegraf, topic: "sensors/#", access: read}
      - {user: sensor-garage, topic: "sensors/garage/#", access: write}
    storage: 1Gi
    expose: nodeport                   # none (default), loadbalancer or nodeport; outside needs TLS
    node_port: 30883                   # only with expose: nodeport (30000-32767)
    tls_secret_name: mosquitto-tls     # a kubernetes.io/tls Secret in the namespace: port 8883
  telegraf:
    mqtt_user: telegraf                # a Mosquitto user with read access
    topics: ["sensors/#"]
    data_format: json                  # json, influx or value
  influxdb:
    org: homelab
    bucket: sensors
    retention: 365d                    # at least 1h, or 0s to keep forever
    storage: 10Gi
  grafana:
    hostname: grafana.lothlorien.lan   # ingress host
    ingress_class: traefik
    tls_secret_name: grafana-tls       # needs hostname
    storage: 2Gi
    influxdb_default: true             # exactly one default datasource overall
    datasources:
      - {name: Loki, type: loki, uid: loki, url: "http://loki.monitoring:3100", is_default: false}
```
Secrets: `mqttPassword-<user>` per user, `influxdbAdminPassword`, `influxdbOperatorToken`,
`grafanaAdminPassword`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from components.mtig.render import parse_duration

from .base import NO_VALUE, Model, Problem, SecretSpec, has_cluster

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

# MQTT user names become Pulumi secret keys (`mqttPassword-<user>`) and password-file lines.
USER_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Kubernetes object names (RFC 1123 label / subdomain).
K8S_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
QUANTITY_RE = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")


def _k8s_name(value: str | None) -> str | None:
    if value is not None and not K8S_NAME_RE.match(value):
        raise ValueError("is not a valid Kubernetes name (lowercase letters, digits and '-', at most 63)")
    return value


def _quantity(value: str) -> str:
    if not QUANTITY_RE.match(value):
        raise ValueError("is not a volume size such as 512Mi, 10Gi or 1Ti")
    return value


def _topic(value: str) -> str:
    if not value or any(c.isspace() for c in value) or "\0" in value:
        raise ValueError("is not an MQTT topic filter (no spaces, not empty)")
    return value


class AclEntry(Model):
    """One topic a user may read (subscribe), write (publish) or both."""

    user: str
    topic: str
    access: Literal["read", "write", "readwrite"]

    _check_topic = field_validator("topic")(lambda cls, v: _topic(v))


class Mosquitto(Model):
    users: tuple[str, ...] = Field(min_length=1)
    acl: tuple[AclEntry, ...] = ()
    storage: str = "1Gi"
    expose: Literal["none", "loadbalancer", "nodeport"] = "none"
    node_port: int | None = Field(default=None, ge=30000, le=32767)
    # A kubernetes.io/tls Secret in the namespace (e.g. from cert-manager): enables port 8883.
    tls_secret_name: str | None = None

    @field_validator("users")
    @classmethod
    def _users(cls, users: tuple[str, ...]) -> tuple[str, ...]:
        for user in users:
            if not USER_RE.match(user):
                raise ValueError(f"{user!r} is not a valid MQTT user name (lowercase letters, digits, '-' and '_')")
        return users

    _check_storage = field_validator("storage")(lambda cls, v: _quantity(v))
    _check_tls = field_validator("tls_secret_name")(lambda cls, v: _k8s_name(v))


class Telegraf(Model):
    mqtt_user: str = "telegraf"
    topics: tuple[str, ...] = Field(default=("sensors/#",), min_length=1)
    data_format: Literal["json", "influx", "value"] = "json"

    @field_validator("topics")
    @classmethod
    def _topics(cls, topics: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_topic(t) for t in topics)


class InfluxDB(Model):
    org: str = Field(min_length=1)
    bucket: str = Field(min_length=1)
    # InfluxDB duration: how long points are kept; "0s" keeps them forever.
    retention: str
    storage: str = "10Gi"

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        seconds = parse_duration(value)
        if 0 < seconds < 3600:
            raise ValueError("retention under one hour; use at least 1h, or 0s to keep data forever")
        return value

    _check_storage = field_validator("storage")(lambda cls, v: _quantity(v))


class Datasource(Model):
    """An extra Grafana datasource provisioned next to InfluxDB."""

    name: str = Field(min_length=1)
    type: str = Field(min_length=1)
    uid: str = Field(min_length=1)
    url: str = Field(min_length=1)
    is_default: bool = False


class Grafana(Model):
    hostname: str | None = None
    ingress_class: str | None = None
    tls_secret_name: str | None = None
    storage: str = "2Gi"
    influxdb_default: bool = True
    datasources: tuple[Datasource, ...] = ()

    _check_storage = field_validator("storage")(lambda cls, v: _quantity(v))
    _check_tls = field_validator("tls_secret_name")(lambda cls, v: _k8s_name(v))

    @model_validator(mode="after")
    def _tls_needs_host(self) -> "Grafana":
        if self.tls_secret_name and not self.hostname:
            raise ValueError("tls_secret_name needs a hostname for the ingress")
        return self


class Mtig(Model):
    """The metrics stack: Mosquitto, Telegraf, InfluxDB, Grafana, in one namespace of the k3s cluster."""

    namespace: str = "mtig"
    storage_class: str | None = None
    mosquitto: Mosquitto
    telegraf: Telegraf = Telegraf()
    influxdb: InfluxDB
    grafana: Grafana = Grafana()

    _check_namespace = field_validator("namespace")(lambda cls, v: _k8s_name(v))
    _check_class = field_validator("storage_class")(lambda cls, v: _k8s_name(v))


def _prometheus_is_default(cfg: "EnvironmentConfig") -> bool:
    """Whether the monitoring layer gives Grafana its Prometheus as the default datasource."""
    mon = getattr(cfg, "monitoring", None)
    return mon is not None and mon.enabled and mon.grafana_default


def password_key(user: str) -> str:
    return f"mqttPassword-{user}"


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    m = cfg.mtig
    if m is None:
        return
    # Without a cluster the section still serves the edge brokers (hosts of group mqtt) their users.
    if not has_cluster(cfg) and not any("mqtt" in host.groups for host in cfg.declared_hosts()):
        yield Problem("mtig", NO_VALUE, "runs on the first k3s cluster, and k3s.clusters declares none: "
                      "add a cluster or remove mtig")
    users = m.mosquitto.users
    seen: set[str] = set()
    for i, user in enumerate(users):
        if user in seen:
            yield Problem(f"mtig.mosquitto.users[{i}]", user, "duplicate MQTT user")
        seen.add(user)
    with_acl = {entry.user for entry in m.mosquitto.acl}
    for i, user in enumerate(users):
        if user not in with_acl:
            yield Problem(f"mtig.mosquitto.users[{i}]", user, "MQTT user has no entry in mtig.mosquitto.acl")
    for i, entry in enumerate(m.mosquitto.acl):
        if entry.user not in seen:
            yield Problem(
                f"mtig.mosquitto.acl[{i}].user", entry.user, f"ACL names an unknown MQTT user (users: {', '.join(users)})"
            )
    if m.telegraf.mqtt_user not in seen:
        yield Problem("mtig.telegraf.mqtt_user", m.telegraf.mqtt_user, "is not one of mtig.mosquitto.users")
    elif not any(e.user == m.telegraf.mqtt_user and e.access != "write" for e in m.mosquitto.acl):
        yield Problem("mtig.telegraf.mqtt_user", m.telegraf.mqtt_user, "has no read access in mtig.mosquitto.acl")
    if m.mosquitto.expose != "none" and not m.mosquitto.tls_secret_name:
        yield Problem(
            "mtig.mosquitto.expose", m.mosquitto.expose,
            "MQTT outside the cluster needs TLS: set mtig.mosquitto.tls_secret_name",
        )
    if m.mosquitto.node_port is not None and m.mosquitto.expose != "nodeport":
        yield Problem("mtig.mosquitto.node_port", m.mosquitto.node_port, "is only used with expose: nodeport")
    defaults = (["InfluxDB"] if m.grafana.influxdb_default else []) + [
        d.name for d in m.grafana.datasources if d.is_default
    ]
    if len(defaults) > 1:
        yield Problem("mtig.grafana.datasources", defaults, "more than one default Grafana datasource")
    elif not defaults and not _prometheus_is_default(cfg):
        yield Problem("mtig.grafana.influxdb_default", False, "no default Grafana datasource: exactly one is needed")
    names = ["InfluxDB", *(d.name for d in m.grafana.datasources)]
    uids = ["influxdb", *(d.uid for d in m.grafana.datasources)]
    for i, d in enumerate(m.grafana.datasources):
        if names.count(d.name) > 1:
            yield Problem(f"mtig.grafana.datasources[{i}].name", d.name, "duplicate Grafana datasource name")
        if uids.count(d.uid) > 1:
            yield Problem(f"mtig.grafana.datasources[{i}].uid", d.uid, "duplicate Grafana datasource uid")


# InfluxDB 2.7 refuses the initial user's password outside 8..72 characters ("passwords must be
# between 8 and 72 characters long", influxdata/influxdb tenant password check; influxdb#25261):
# the chart's setup fails and the release never becomes ready.
INFLUXDB_PASSWORD = {"pattern": r"(?s).{8,72}", "form": "a password of 8 to 72 characters (InfluxDB's limits)"}
# Telegraf substitutes ${VAR} into its config text before parsing the TOML (influxdata/telegraf
# docs/CONFIGURATION.md, "Environment Variables": "Replacement occurs before file parsing"), and the
# password sits inside a basic string: a quote, a backslash or a control character breaks or
# changes it.
TELEGRAF_SAFE = {"pattern": r'[^"\\\x00-\x1f\x7f]+',
                 "form": "a password without quotes, backslashes or control characters (Telegraf's TOML)"}


def secrets(cfg: "EnvironmentConfig") -> Iterable[SecretSpec]:
    m = cfg.mtig
    if m is None or not has_cluster(cfg):  # nothing is deployed without a cluster
        return
    for user in sorted(set(m.mosquitto.users)):
        extra = TELEGRAF_SAFE if user == m.telegraf.mqtt_user else {}
        yield SecretSpec(password_key(user), f"MQTT password of the Mosquitto user {user}", **extra)
    yield SecretSpec("influxdbAdminPassword", "InfluxDB admin user's password", **INFLUXDB_PASSWORD)
    yield SecretSpec("influxdbOperatorToken", "InfluxDB operator (all-access) token, kept in the cluster")
    yield SecretSpec("grafanaAdminPassword", "Grafana admin password")
