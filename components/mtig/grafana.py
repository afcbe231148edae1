"""Grafana from the official grafana/grafana chart, provisioned from files.

Datasources (InfluxDB plus any the monitoring layer adds, exactly one default) and dashboards
(JSON files in the repo) are rendered into ConfigMaps the chart mounts. Secrets reach the pod
as environment variables from Secrets; provisioning files only name them (``${VAR}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.mtig import k8s as kh
from components.mtig import render, versions

TYPE = "homelab:mtig:Grafana"
APP = "grafana"
ADMIN_SECRET = "grafana-admin"
DATA_CLAIM = "grafana-data"
DATASOURCES_DIR = "/etc/grafana/provisioning/datasources"
PROVIDERS_DIR = "/etc/grafana/provisioning/dashboards"
DASHBOARDS_DIR = "/etc/grafana/dashboards/mtig"


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str


@dataclass(frozen=True)
class GrafanaArgs:
    namespace: pulumi.Input[str]
    admin_password: pulumi.Input[str]
    datasources: Sequence[render.Datasource]
    # Environment variable -> Secret key, for the `${VAR}`s the datasources refer to.
    secret_env: Mapping[str, SecretRef] = field(default_factory=dict)
    hostname: str | None = None
    ingress_class: str | None = None
    tls_secret: str | None = None
    # cert-manager ClusterIssuer that issues `tls_secret` for the ingress (components/ca).
    cluster_issuer: str | None = None
    storage_size: str = "2Gi"
    storage_class: str | None = None
    admin_user: str = "admin"
    protect: bool = False
    # Resources that create Secrets named in `secret_env` (the token Job).
    after: Sequence[pulumi.Resource] = ()


def chart_values(args: GrafanaArgs, checksum: str) -> dict[str, object]:
    """Values for the grafana chart: no secret in them, only names of Secrets."""
    values: dict[str, object] = {
        "fullnameOverride": "grafana",
        "admin": {"existingSecret": ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
        "persistence": {"enabled": True, "existingClaim": DATA_CLAIM},
        # One ReadWriteOnce volume: the old pod must let go of it before the new one starts.
        "deploymentStrategy": {"type": "Recreate"},
        "resources": kh.GRAFANA_SIZE.values(),
        "testFramework": {"enabled": False},
        "podAnnotations": {"checksum/provisioning": checksum},
        "envValueFrom": {
            var: {"secretKeyRef": {"name": ref.name, "key": ref.key}} for var, ref in sorted(args.secret_env.items())
        },
        "extraConfigmapMounts": [
            {"name": "datasources", "configMap": "grafana-datasources", "mountPath": DATASOURCES_DIR, "readOnly": True},
            {"name": "dashboard-providers", "configMap": "grafana-dashboard-providers", "mountPath": PROVIDERS_DIR, "readOnly": True},
            {"name": "dashboards", "configMap": "grafana-dashboards", "mountPath": DASHBOARDS_DIR, "readOnly": True},
        ],
        "grafana.ini": {"analytics": {"check_for_updates": False, "reporting_enabled": False}},
    }
    if args.hostname:
        ingress: dict[str, object] = {"enabled": True, "hosts": [args.hostname], "path": "/", "pathType": "Prefix"}
        if args.ingress_class:
            ingress["ingressClassName"] = args.ingress_class
        if args.tls_secret:
            ingress["tls"] = [{"secretName": args.tls_secret, "hosts": [args.hostname]}]
        if args.cluster_issuer and args.tls_secret:
            # cert-manager's ingress-shim issues tls_secret for the hosts of `tls` from this issuer.
            ingress["annotations"] = {"cert-manager.io/cluster-issuer": args.cluster_issuer}
        values["ingress"] = ingress
        values["grafana.ini"] = {
            **values["grafana.ini"],  # type: ignore[dict-item]
            "server": {"root_url": f"{'https' if args.tls_secret else 'http'}://{args.hostname}/"},
        }
    return values


class Grafana(pulumi.ComponentResource):
    url: pulumi.Output[str]
    datasources_text: str

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.datasources_text = render.grafana_datasources(args.datasources)
        providers = render.dashboard_provider(DASHBOARDS_DIR)
        dashboards = render.dashboards()

        self.admin = k8s.core.v1.Secret(
            f"{name}-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ADMIN_SECRET, namespace=args.namespace, labels=kh.labels(APP)),
            type="Opaque",
            string_data={"admin-user": args.admin_user, "admin-password": pulumi.Output.secret(args.admin_password)},
            opts=child,
        )
        self.datasources = k8s.core.v1.ConfigMap(
            f"{name}-datasources",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="grafana-datasources", namespace=args.namespace, labels=kh.labels(APP)),
            data={"datasources.yaml": self.datasources_text},
            opts=child,
        )
        self.providers = k8s.core.v1.ConfigMap(
            f"{name}-dashboard-providers",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="grafana-dashboard-providers", namespace=args.namespace, labels=kh.labels(APP)
            ),
            data={"mtig.yaml": providers},
            opts=child,
        )
        self.dashboards = k8s.core.v1.ConfigMap(
            f"{name}-dashboards",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="grafana-dashboards", namespace=args.namespace, labels=kh.labels(APP)),
            data=dashboards,
            opts=child,
        )
        self.data = kh.pvc(
            f"{name}-data",
            name=DATA_CLAIM,
            namespace=args.namespace,
            app=APP,
            size=args.storage_size,
            storage_class=args.storage_class,
            protect=args.protect,
            opts=child,
        )
        checksum = kh.checksum(self.datasources_text, providers, *(dashboards[k] for k in sorted(dashboards)))
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="grafana",
            chart=versions.GRAFANA_CHART,
            version=versions.GRAFANA_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.GRAFANA_REPO),
            namespace=args.namespace,
            values=chart_values(args, checksum),
            atomic=True,
            timeout=600,
            # The chart mounts these by name, and the pod needs the Secrets in `secret_env`.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.admin, self.datasources, self.providers, self.dashboards, self.data, *args.after],
            ),
        )
        if args.hostname:
            self.url = pulumi.Output.from_input(f"{'https' if args.tls_secret else 'http'}://{args.hostname}")
        else:
            self.url = pulumi.Output.concat("http://grafana.", args.namespace, ".svc.cluster.local")
        self.register_outputs({"url": self.url})
