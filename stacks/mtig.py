"""Wiring of the metrics stack (Mosquitto, Telegraf, InfluxDB, Grafana) on the cluster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.monitoring import UpstreamArgs
from components.mtig import AclRule, Datasource, MetricsStack, MetricsStackArgs, MqttUser, SecretRef

from . import monitoring
from .config.model import EnvironmentConfig
from .config.mtig import Mtig, password_key
from .secrets import Secrets
from .hosts import Cluster


@dataclass(frozen=True)
class Metrics:
    """What the metrics stack hands to monitoring and to the outputs."""

    namespace: str
    mqtt_url: pulumi.Output[str]
    mqtt_external_url: pulumi.Output[str] | None
    grafana_url: pulumi.Output[str]
    influxdb_url: pulumi.Output[str]
    org: str
    bucket: str
    stack: MetricsStack
    telegraf_metrics_target: str = ""  # host:port of Telegraf's own metrics (the scrape job "telegraf")

    def outputs(self) -> dict[str, object]:
        """Endpoints only: no password or token is ever exported."""
        values: dict[str, object] = {
            "namespace": self.namespace,
            "mqtt_url": self.mqtt_url,
            "grafana_url": self.grafana_url,
            "influxdb_url": self.influxdb_url,
            "influxdb_org": self.org,
            "influxdb_bucket": self.bucket,
        }
        if self.mqtt_external_url is not None:
            values["mqtt_external_url"] = self.mqtt_external_url
        return values


def mqtt_users(m: Mtig) -> list[MqttUser]:
    """Config users with their ACL rules, in config order."""
    return [
        MqttUser(user, tuple(AclRule(e.access, e.topic) for e in m.mosquitto.acl if e.user == user))
        for user in m.mosquitto.users
    ]


def config_datasources(m: Mtig) -> list[Datasource]:
    return [
        Datasource(name=d.name, type=d.type, uid=d.uid, url=d.url, is_default=d.is_default)
        for d in m.grafana.datasources
    ]


GRAFANA_TLS_SECRET = "grafana-tls"


def stack_args(
    cfg: EnvironmentConfig,
    secrets: Secrets,
    extra_datasources: Sequence[Datasource] = (),
    extra_secret_env: Mapping[str, SecretRef] | None = None,
    extra_secrets: Mapping[str, Mapping[str, pulumi.Input[str]]] | None = None,
) -> MetricsStackArgs:
    m = cfg.mtig
    assert m is not None
    return MetricsStackArgs(
        namespace=m.namespace,
        mqtt_users=mqtt_users(m),
        mqtt_passwords={user: secrets.require(password_key(user)) for user in m.mosquitto.users},
        telegraf_user=m.telegraf.mqtt_user,
        topics=m.telegraf.topics,
        data_format=m.telegraf.data_format,
        org=m.influxdb.org,
        bucket=m.influxdb.bucket,
        retention=m.influxdb.retention,
        influxdb_admin_password=secrets.require("influxdbAdminPassword"),
        influxdb_operator_token=secrets.require("influxdbOperatorToken"),
        grafana_admin_password=secrets.require("grafanaAdminPassword"),
        extra_datasources=[*config_datasources(m), *extra_datasources],
        extra_secret_env=dict(extra_secret_env or {}),
        extra_secrets=dict(extra_secrets or {}),
        influx_is_default=m.grafana.influxdb_default,
        storage_class=m.storage_class,
        mosquitto_storage=m.mosquitto.storage,
        influxdb_storage=m.influxdb.storage,
        grafana_storage=m.grafana.storage,
        mqtt_expose=m.mosquitto.expose,
        mqtt_node_port=m.mosquitto.node_port,
        mqtt_tls_secret=m.mosquitto.tls_secret_name,
        grafana_hostname=m.grafana.hostname,
        grafana_ingress_class=m.grafana.ingress_class,
        # A TLS Secret of the operator's, else one cert-manager issues from the lab CA (components/ca).
        grafana_tls_secret=m.grafana.tls_secret_name or (GRAFANA_TLS_SECRET if cfg.ca is not None else None),
        grafana_cluster_issuer=cfg.ca.issuer_name if cfg.ca is not None and not m.grafana.tls_secret_name else None,
        # Production data (time series, dashboards, retained messages) survives a mistake.
        protect=cfg.environment.production,
    )


def deploy(
    cfg: EnvironmentConfig,
    secrets: Secrets,
    cluster: Cluster | None,
    extra_datasources: Sequence[Datasource] | None = None,
    extra_secret_env: Mapping[str, SecretRef] | None = None,
    upstream: UpstreamArgs | None = None,
) -> Metrics | None:
    """Deploy the metrics stack on the cluster's provider.

    ``extra_datasources`` (and the Secrets their ``${VAR}``s name, ``extra_secret_env``) are
    the Grafana datasources other layers add. When not given, they are the monitoring layer's
    (Prometheus, Loki: ``stacks.monitoring.grafana_datasources(cfg)``, which need no secret);
    at most one of all may be the default.
    """
    if cfg.mtig is None:
        return None
    extra_secrets: dict = {}
    if extra_datasources is None:
        extra_datasources = monitoring.grafana_datasources(cfg)
        # The upstream's datasources log in with its passwords and check its CA (secrets of a Secret).
        extra_secrets, upstream_env = monitoring.grafana_upstream(upstream)
        extra_secret_env = {**upstream_env, **(extra_secret_env or {})}
    if cluster is None:
        pulumi.log.warn("mtig is configured but there is no k3s cluster to deploy it on: skipped")
        return None
    stack = MetricsStack(
        "mtig",
        stack_args(cfg, secrets, extra_datasources, extra_secret_env, extra_secrets),
        pulumi.ResourceOptions(provider=cluster.provider),
    )
    return Metrics(
        namespace=stack.namespace,
        mqtt_url=stack.mqtt_url,
        mqtt_external_url=stack.mqtt_external,
        grafana_url=stack.grafana_url,
        influxdb_url=stack.influxdb_url,
        org=stack.org,
        bucket=stack.bucket,
        stack=stack,
        telegraf_metrics_target=stack.telegraf_metrics_target,
    )
