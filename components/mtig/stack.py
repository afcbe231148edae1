"""The whole MTIG stack in one namespace: Mosquitto -> Telegraf -> InfluxDB 2 -> Grafana."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.mtig import k8s as kh
from components.mtig import render
from components.mtig.grafana import Grafana, GrafanaArgs, SecretRef
from components.mtig.influxdb import GRAFANA_TOKEN_SECRET, TELEGRAF_TOKEN_SECRET, TOKEN_KEY, InfluxDB, InfluxDBArgs
from components.mtig.mosquitto import MQTT_PORT, Mosquitto, MosquittoArgs
from components.mtig.telegraf import Telegraf, TelegrafArgs

TYPE = "homelab:mtig:MetricsStack"
INFLUX_DATASOURCE_UID = "influxdb"


@dataclass(frozen=True)
class MetricsStackArgs:
    namespace: str
    mqtt_users: Sequence[render.MqttUser]
    mqtt_passwords: Mapping[str, pulumi.Input[str]]
    telegraf_user: str
    topics: Sequence[str]
    org: str
    bucket: str
    retention: str
    influxdb_admin_password: pulumi.Input[str]
    influxdb_operator_token: pulumi.Input[str]
    grafana_admin_password: pulumi.Input[str]
    data_format: str = "json"
    # Datasources other layers add to Grafana (Prometheus, Loki ...); at most one default.
    extra_datasources: Sequence[render.Datasource] = ()
    extra_secret_env: Mapping[str, SecretRef] = field(default_factory=dict)
    # Secrets (name -> key -> value) created in the namespace before Grafana, for `extra_secret_env`
    # (the upstream environment's passwords and CA: stacks/monitoring.py grafana_upstream).
    extra_secrets: Mapping[str, Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)
    influx_is_default: bool = True
    storage_class: str | None = None
    mosquitto_storage: str = "1Gi"
    influxdb_storage: str = "10Gi"
    grafana_storage: str = "2Gi"
    mqtt_expose: str = "none"
    mqtt_node_port: int | None = None
    mqtt_tls_secret: str | None = None
    grafana_hostname: str | None = None
    grafana_ingress_class: str | None = None
    grafana_tls_secret: str | None = None
    grafana_cluster_issuer: str | None = None
    protect: bool = False


def influx_datasource(namespace: str, org: str, bucket: str, is_default: bool) -> render.Datasource:
    return render.Datasource(
        name="InfluxDB",
        type="influxdb",
        uid=INFLUX_DATASOURCE_UID,
        url=f"http://influxdb.{namespace}.svc.cluster.local:80",
        is_default=is_default,
        json_data={"version": "Flux", "organization": org, "defaultBucket": bucket, "tlsSkipVerify": False},
        secure_env={"token": "INFLUX_TOKEN"},
    )


class MetricsStack(pulumi.ComponentResource):
    mqtt_url: pulumi.Output[str]
    mqtt_external: pulumi.Output[str] | None
    grafana_url: pulumi.Output[str]
    influxdb_url: pulumi.Output[str]
    org: str
    bucket: str
    namespace: str

    def __init__(self, name: str, args: MetricsStackArgs, opts: pulumi.ResourceOptions | None = None):
        users = {u.name for u in args.mqtt_users}
        if args.telegraf_user not in users:
            raise ValueError(f"telegraf_user {args.telegraf_user!r} is not an MQTT user")
        datasources = [
            influx_datasource(args.namespace, args.org, args.bucket, args.influx_is_default),
            *args.extra_datasources,
        ]
        problems = render.check_datasources(datasources)
        if problems:
            raise ValueError("; ".join(problems))
        super().__init__(TYPE, name, None, opts)

        # Deleting a namespace deletes every volume in it: protected like the volumes.
        self.ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=kh.labels("mtig")),
            opts=kh.data_volume_options(pulumi.ResourceOptions(parent=self), args.protect),
        )
        # The plain name, carrying the dependency on the Namespace resource.
        namespace = pulumi.Output.all(self.ns.id, args.namespace).apply(lambda a: a[1])
        child = pulumi.ResourceOptions(parent=self)

        self.mosquitto = Mosquitto(
            f"{name}-mosquitto",
            MosquittoArgs(
                namespace=namespace,
                users=args.mqtt_users,
                passwords=args.mqtt_passwords,
                storage_size=args.mosquitto_storage,
                storage_class=args.storage_class,
                expose=args.mqtt_expose,
                node_port=args.mqtt_node_port,
                tls_secret=args.mqtt_tls_secret,
                protect=args.protect,
            ),
            child,
        )
        self.influxdb = InfluxDB(
            f"{name}-influxdb",
            InfluxDBArgs(
                namespace=namespace,
                org=args.org,
                bucket=args.bucket,
                retention=args.retention,
                admin_password=args.influxdb_admin_password,
                operator_token=args.influxdb_operator_token,
                storage_size=args.influxdb_storage,
                storage_class=args.storage_class,
                protect=args.protect,
            ),
            child,
        )
        self.telegraf = Telegraf(
            f"{name}-telegraf",
            TelegrafArgs(
                namespace=namespace,
                settings=render.TelegrafSettings(
                    mqtt_server=f"tcp://mosquitto.{args.namespace}.svc.cluster.local:{MQTT_PORT}",
                    topics=tuple(args.topics),
                    influx_url=f"http://influxdb.{args.namespace}.svc.cluster.local:80",
                    org=args.org,
                    bucket=args.bucket,
                    data_format=args.data_format,
                    client_id=f"telegraf-{args.namespace}",
                ),
                mqtt_username=args.telegraf_user,
                mqtt_password=args.mqtt_passwords[args.telegraf_user],
                token_secret=TELEGRAF_TOKEN_SECRET,
                token_key=TOKEN_KEY,
                after=(self.influxdb.tokens,),
            ),
            child,
        )
        extra = [
            k8s.core.v1.Secret(
                f"{name}-secret-{secret_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=namespace, labels=kh.labels("grafana")),
                type="Opaque",
                string_data={key: pulumi.Output.secret(value) for key, value in sorted(data.items())},
                opts=child,
            )
            for secret_name, data in sorted(args.extra_secrets.items())
        ]
        self.grafana = Grafana(
            f"{name}-grafana",
            GrafanaArgs(
                namespace=namespace,
                admin_password=args.grafana_admin_password,
                datasources=datasources,
                secret_env={"INFLUX_TOKEN": SecretRef(GRAFANA_TOKEN_SECRET, TOKEN_KEY), **args.extra_secret_env},
                hostname=args.grafana_hostname,
                ingress_class=args.grafana_ingress_class,
                tls_secret=args.grafana_tls_secret,
                cluster_issuer=args.grafana_cluster_issuer,
                storage_size=args.grafana_storage,
                storage_class=args.storage_class,
                protect=args.protect,
                after=(self.influxdb.tokens, *extra),
            ),
            child,
        )

        self.namespace = args.namespace
        # Read by the monitoring layer (stacks/monitoring.py _metrics_jobs) as the job "telegraf".
        self.telegraf_metrics_target = f"telegraf.{args.namespace}.svc.cluster.local:{render.TELEGRAF_METRICS_PORT}"
        self.mqtt_url = self.mosquitto.url
        self.mqtt_external = None
        if self.mosquitto.external_service is not None:
            self.mqtt_external = self.mosquitto.external_service.status.apply(_external_address)
        self.grafana_url = self.grafana.url
        self.influxdb_url = self.influxdb.url
        self.org = args.org
        self.bucket = args.bucket
        self.register_outputs(
            {
                "mqtt_url": self.mqtt_url,
                "grafana_url": self.grafana_url,
                "influxdb_url": self.influxdb_url,
                "org": self.org,
                "bucket": self.bucket,
            }
        )


def _external_address(status: object) -> str:
    """`mqtts://<address>:8883` from a LoadBalancer status, or empty until one is assigned."""
    ingress = []
    if isinstance(status, dict):
        ingress = (status.get("load_balancer") or status.get("loadBalancer") or {}).get("ingress") or []
    elif status is not None and getattr(status, "load_balancer", None) is not None:
        ingress = status.load_balancer.ingress or []  # type: ignore[attr-defined]
    for entry in ingress:
        address = entry.get("ip") or entry.get("hostname") if isinstance(entry, dict) else (entry.ip or entry.hostname)
        if address:
            return f"mqtts://{address}:8883"
    return ""
