"""Mosquitto 2 broker as typed Kubernetes resources (there is no official chart)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.mtig import k8s as kh
from components.mtig import render, versions

TYPE = "homelab:mtig:Mosquitto"
APP = "mosquitto"
EXPOSE = ("none", "loadbalancer", "nodeport")
MQTT_PORT = 1883
MQTTS_PORT = 8883


@dataclass(frozen=True)
class MosquittoArgs:
    namespace: pulumi.Input[str]
    users: Sequence[render.MqttUser]
    # user name -> password (secret Outputs); one per user, hashed into the password file.
    passwords: Mapping[str, pulumi.Input[str]]
    storage_size: str = "1Gi"
    storage_class: str | None = None
    expose: str = "none"
    node_port: int | None = None
    # Name of a kubernetes.io/tls Secret in the namespace; enables the 8883 listener.
    tls_secret: str | None = None
    protect: bool = False


class Mosquitto(pulumi.ComponentResource):
    """Namespace-scoped broker: config + ACL (ConfigMap), password file (Secret), data volume,
    a single-replica Deployment, a ClusterIP Service and, when asked, an external Service."""

    service_name: str
    host: pulumi.Output[str]
    external_service: k8s.core.v1.Service | None

    def __init__(self, name: str, args: MosquittoArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        if args.expose not in EXPOSE:
            raise ValueError(f"expose must be one of {EXPOSE}, got {args.expose!r}")
        if args.expose != "none" and not args.tls_secret:
            raise ValueError("exposing Mosquitto outside the cluster needs a TLS certificate (tls_secret)")
        names = sorted(u.name for u in args.users)
        if sorted(args.passwords) != names:
            raise ValueError(f"passwords must be given for exactly the users {names}")
        child = pulumi.ResourceOptions(parent=self)
        tls = args.tls_secret is not None

        conf = render.mosquitto_conf(port=MQTT_PORT, tls=tls, tls_port=MQTTS_PORT)
        acl = render.acl_file(args.users)
        self.config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mosquitto-config", namespace=args.namespace, labels=kh.labels(APP)),
            data={"mosquitto.conf": conf, "acl": acl},
            opts=child,
        )
        # One random salt per user, created once and kept in the state: the password file is stable
        # across runs, and no salt says anything about its password.
        salts = {user: random.RandomBytes(f"{name}-salt-{user}", length=render.SALT_BYTES, opts=child).base64
                 for user in names}
        password_file = pulumi.Output.secret(
            pulumi.Output.all(pulumi.Output.all(**dict(args.passwords)), pulumi.Output.all(**salts)).apply(
                lambda values: render.password_file(values[0], values[1]))
        )
        self.passwords = k8s.core.v1.Secret(
            f"{name}-passwords",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mosquitto-passwords", namespace=args.namespace, labels=kh.labels(APP)),
            type="Opaque",
            string_data={"passwd": password_file},
            opts=child,
        )
        self.data = kh.pvc(
            f"{name}-data",
            name="mosquitto-data",
            namespace=args.namespace,
            app=APP,
            size=args.storage_size,
            storage_class=args.storage_class,
            protect=args.protect,
            opts=child,
        )

        mounts = [
            k8s.core.v1.VolumeMountArgs(name="config", mount_path="/mosquitto/config", read_only=True),
            k8s.core.v1.VolumeMountArgs(name="passwords", mount_path="/mosquitto/passwd", read_only=True),
            k8s.core.v1.VolumeMountArgs(name="data", mount_path="/mosquitto/data"),
        ]
        volumes = [
            k8s.core.v1.VolumeArgs(
                name="config",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name="mosquitto-config", default_mode=0o444),
            ),
            k8s.core.v1.VolumeArgs(
                name="passwords",
                secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name="mosquitto-passwords", default_mode=0o440),
            ),
            k8s.core.v1.VolumeArgs(
                name="data",
                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name="mosquitto-data"),
            ),
        ]
        ports = [k8s.core.v1.ContainerPortArgs(name="mqtt", container_port=MQTT_PORT, protocol="TCP")]
        if tls:
            mounts.append(k8s.core.v1.VolumeMountArgs(name="certs", mount_path="/mosquitto/certs", read_only=True))
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name="certs",
                    secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=args.tls_secret, default_mode=0o440),
                )
            )
            ports.append(k8s.core.v1.ContainerPortArgs(name="mqtts", container_port=MQTTS_PORT, protocol="TCP"))

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mosquitto", namespace=args.namespace, labels=kh.labels(APP)),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                # One writer on a ReadWriteOnce volume: stop the old pod before starting the new.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kh.selector(APP)),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=kh.labels(APP),
                        annotations={
                            "checksum/config": kh.checksum(conf, acl),
                            # Mosquitto reads the password file at start only: a changed file
                            # rolls the pod. A digest of salted PBKDF2 hashes reveals no password.
                            "checksum/passwords": pulumi.Output.unsecret(password_file.apply(kh.checksum)),
                        },
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        security_context=kh.pod_security(versions.MOSQUITTO_UID),
                        automount_service_account_token=False,
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="mosquitto",
                                image=versions.MOSQUITTO_IMAGE,
                                command=["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"],
                                ports=ports,
                                volume_mounts=mounts,
                                resources=kh.MOSQUITTO_SIZE.args(),
                                security_context=kh.restricted_container_security(),
                                readiness_probe=k8s.core.v1.ProbeArgs(
                                    tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="mqtt"),
                                    period_seconds=10,
                                ),
                                liveness_probe=k8s.core.v1.ProbeArgs(
                                    tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="mqtt"),
                                    initial_delay_seconds=10,
                                    period_seconds=20,
                                ),
                            )
                        ],
                        volumes=volumes,
                    ),
                ),
            ),
            # The pod mounts these by name: their contents must exist before it starts.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.config, self.passwords, self.data]),
        )

        service_ports = [k8s.core.v1.ServicePortArgs(name="mqtt", port=MQTT_PORT, target_port="mqtt", protocol="TCP")]
        if tls:
            service_ports.append(
                k8s.core.v1.ServicePortArgs(name="mqtts", port=MQTTS_PORT, target_port="mqtts", protocol="TCP")
            )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mosquitto", namespace=args.namespace, labels=kh.labels(APP)),
            spec=k8s.core.v1.ServiceSpecArgs(type="ClusterIP", selector=kh.selector(APP), ports=service_ports),
            opts=child,
        )

        self.external_service = None
        if args.expose != "none":
            # Only the TLS listener leaves the cluster.
            external_port = k8s.core.v1.ServicePortArgs(
                name="mqtts",
                port=MQTTS_PORT,
                target_port="mqtts",
                protocol="TCP",
                node_port=args.node_port if args.expose == "nodeport" else None,
            )
            self.external_service = k8s.core.v1.Service(
                f"{name}-external",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="mosquitto-external", namespace=args.namespace, labels=kh.labels(APP)
                ),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="LoadBalancer" if args.expose == "loadbalancer" else "NodePort",
                    selector=kh.selector(APP),
                    ports=[external_port],
                    external_traffic_policy="Local",
                ),
                opts=child,
            )

        self.service_name = "mosquitto"
        self.host = pulumi.Output.concat("mosquitto.", args.namespace, ".svc.cluster.local")
        self.url = pulumi.Output.concat("mqtt://", self.host, f":{MQTT_PORT}")
        self.register_outputs({"url": self.url, "host": self.host})
