"""Telegraf (MQTT -> InfluxDB 2) as typed manifests with a config rendered from a template.

Credentials reach the process only as environment variables from Secrets; the config file
refers to them as ``${VAR}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.mtig import k8s as kh
from components.mtig import render, versions

TYPE = "homelab:mtig:Telegraf"
APP = "telegraf"
MQTT_SECRET = "telegraf-mqtt"


@dataclass(frozen=True)
class TelegrafArgs:
    namespace: pulumi.Input[str]
    settings: render.TelegrafSettings
    mqtt_username: str
    mqtt_password: pulumi.Input[str]
    token_secret: str  # Secret holding the InfluxDB write token under `token`
    token_key: str = "token"
    # Resources that create `token_secret` (the token Job): the pod cannot start without it.
    after: Sequence[pulumi.Resource] = ()


class Telegraf(pulumi.ComponentResource):
    config_text: str

    def __init__(self, name: str, args: TelegrafArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.config_text = render.telegraf_conf(args.settings)

        self.config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="telegraf-config", namespace=args.namespace, labels=kh.labels(APP)),
            data={"telegraf.conf": self.config_text},
            opts=child,
        )
        self.credentials = k8s.core.v1.Secret(
            f"{name}-mqtt",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=MQTT_SECRET, namespace=args.namespace, labels=kh.labels(APP)),
            type="Opaque",
            string_data={"username": args.mqtt_username, "password": pulumi.Output.secret(args.mqtt_password)},
            opts=child,
        )

        def from_secret(var: str, secret: str, key: str) -> k8s.core.v1.EnvVarArgs:
            return k8s.core.v1.EnvVarArgs(
                name=var,
                value_from=k8s.core.v1.EnvVarSourceArgs(
                    secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret, key=key)
                ),
            )

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="telegraf", namespace=args.namespace, labels=kh.labels(APP)),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                # A persistent MQTT session has one client id: never two consumers at once.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kh.selector(APP)),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=kh.labels(APP),
                        annotations={
                            "checksum/config": kh.checksum(self.config_text),
                            # A rotated MQTT password rolls Telegraf too (it reads it at start only).
                            "checksum/credentials": pulumi.Output.unsecret(
                                pulumi.Output.from_input(args.mqtt_password).apply(kh.checksum)),
                        },
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        security_context=kh.pod_security(versions.TELEGRAF_UID),
                        automount_service_account_token=False,
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="telegraf",
                                image=versions.TELEGRAF_IMAGE,
                                args=["--config", "/etc/telegraf/telegraf.conf"],
                                env=[
                                    from_secret("MQTT_USERNAME", MQTT_SECRET, "username"),
                                    from_secret("MQTT_PASSWORD", MQTT_SECRET, "password"),
                                    from_secret("INFLUX_TOKEN", args.token_secret, args.token_key),
                                ],
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(name="config", mount_path="/etc/telegraf", read_only=True)
                                ],
                                ports=[k8s.core.v1.ContainerPortArgs(
                                    name="metrics", container_port=render.TELEGRAF_METRICS_PORT, protocol="TCP")],
                                resources=kh.TELEGRAF_SIZE.args(),
                                security_context=kh.restricted_container_security(),
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="config",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name="telegraf-config", default_mode=0o444),
                            )
                        ],
                    ),
                ),
            ),
            # The pod reads the config, its credentials and the token Secret by name only.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.config, self.credentials, *args.after]),
        )
        # Prometheus scrapes Telegraf's own metrics (failed InfluxDB writes) through this Service.
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="telegraf", namespace=args.namespace, labels=kh.labels(APP)),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP", selector=kh.selector(APP),
                ports=[k8s.core.v1.ServicePortArgs(name="metrics", port=render.TELEGRAF_METRICS_PORT,
                                                   target_port="metrics", protocol="TCP")]),
            opts=child,
        )
        self.register_outputs({"config": self.config_text})
