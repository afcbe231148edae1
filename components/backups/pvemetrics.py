"""Proxmox sends its own metrics to the lab's InfluxDB: a Proxmox metric server of type influxdb
(HTTP, API v2) and the Service that publishes InfluxDB on the cluster's node addresses.

Provider facts (bpg/terraform-provider-proxmox fwprovider/cluster/metrics/resource_metrics_server.go,
`proxmoxve.metrics.Server` in pulumi-proxmoxve 8.6.0): `name` and `type` force a replacement;
`type` is one of graphite/influxdb/opentelemetry; `influx_db_proto` one of udp/http/https;
`influx_token` is sensitive. Chart facts (influxdata/helm-charts charts/influxdb2/templates/
_helpers.tpl): the pods carry `app.kubernetes.io/name: <chart name>` and
`app.kubernetes.io/instance: <release name>`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_proxmoxve as proxmoxve

from components.mtig import k8s as kh
from components.mtig import versions

TYPE = "homelab:backups:ProxmoxMetrics"
INFLUX_PORT = 8086  # the container port of the influxdb2 chart
SERVICE = "influxdb-proxmox"
INFLUX_POD_LABELS = {"app.kubernetes.io/name": versions.INFLUXDB_CHART, "app.kubernetes.io/instance": "influxdb"}


@dataclass(frozen=True)
class ProxmoxMetricsArgs:
    name: str  # the metric server's id in Proxmox
    namespace: pulumi.Input[str]
    address: pulumi.Input[str]  # a node address where ServiceLB publishes the Service
    port: int
    org: str
    bucket: str
    token: pulumi.Input[str]  # secret: write access to the bucket
    kubernetes: pulumi.ProviderResource
    proxmox: pulumi.ProviderResource
    after: tuple[pulumi.Resource, ...] = ()


class ProxmoxMetrics(pulumi.ComponentResource):
    def __init__(self, name: str, args: ProxmoxMetricsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        self.service = k8s.core.v1.Service(
            f"{name}-influxdb",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE, namespace=args.namespace, labels=kh.labels("influxdb")),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="LoadBalancer",
                selector=INFLUX_POD_LABELS,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=args.port, target_port=INFLUX_PORT, protocol="TCP")],
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=args.kubernetes),
        )
        self.server = proxmoxve.metrics.Server(
            f"{name}-server",
            name=args.name,
            type="influxdb",
            server=args.address,
            port=args.port,
            influx_db_proto="http",
            influx_organization=args.org,
            influx_bucket=args.bucket,
            influx_token=pulumi.Output.secret(args.token),
            # InfluxDB must answer behind the Service (the release and the Service are not in the data).
            opts=pulumi.ResourceOptions(parent=self, provider=args.proxmox,
                                        depends_on=[self.service, *args.after]),
        )
        self.register_outputs({})
