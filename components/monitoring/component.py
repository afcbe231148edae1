"""Monitoring: Prometheus + Alertmanager, Loki and Alloy on one k3s cluster.

The Kubernetes provider arrives through ``opts`` (``providers={"kubernetes": ...}``) and is
inherited by every child. Nothing here reads stack config; ``stacks/monitoring.py`` builds the args.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.monitoring import charts, publish, render
from components.mtig.k8s import checksum

TYPE = "homelab:monitoring:Monitoring"

ALERTMANAGER_SECRET = "alertmanager-config"
INCUS_SECRET = "incus-metrics-client"
PVE_SECRET = "pve-exporter-config"
PVE_EXPORTER = "pve-exporter"
MQTT_EXPORTER = "mosquitto-exporter"
MQTT_SECRET = "mosquitto-exporter-login"
LOKI_SERVICE = "loki-push"
ALLOY_RBAC = "alloy-logs"
# What Alloy's config (templates/config.alloy.j2) reads from the API, and nothing else:
# discovery.kubernetes role "pod" lists and watches pods; loki.source.kubernetes gets a pod and
# streams its log (grafana/alloy v1.9.2 internal/component/loki/source/kubernetes/kubetail/tailer.go:
# Pods().GetLogs, Pods().Get). The journal is a host file. No Secrets, ConfigMaps or nodes.
ALLOY_RULES = (
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
)


@dataclass(frozen=True)
class UpstreamArgs:
    """The environment this one federates (read from its stack outputs)."""

    environment: str
    prometheus_url: pulumi.Input[str]
    loki_url: pulumi.Input[str]
    # Its login and CA (stack outputs `monitoring_credentials`, `ca.root_pem`): secrets except the CA.
    username: str = publish.USERNAME
    prometheus_password: Optional[pulumi.Input[str]] = None
    loki_password: Optional[pulumi.Input[str]] = None
    ca_pem: Optional[pulumi.Input[str]] = None


@dataclass(frozen=True)
class MqttExporterArgs:
    """The Mosquitto exporter's broker login (a user allowed to read ``$SYS/#``)."""

    endpoint: str  # tcp://host:1883
    user: str
    password: pulumi.Input[str]  # a secret


@dataclass
class MonitoringArgs:
    environment: str
    cluster: str
    namespace: str
    # Where the cluster's LoadBalancer services answer (k3s ServiceLB: any node, or the VIP).
    address: pulumi.Input[str]
    k8s_nodes: Sequence[render.K8sNode]
    prometheus: render.StorageSpec
    loki: render.StorageSpec
    alertmanager: render.AlertmanagerSpec
    node_taints: Sequence[str] = ()  # every taint of the cluster's nodes: the log DaemonSet tolerates them
    # receiver name -> webhook URL; secret Outputs, they only ever reach a Kubernetes Secret.
    webhook_urls: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    static_jobs: Sequence[render.StaticJob] = ()
    rules: render.RuleSpec = render.RuleSpec()
    scrape_interval: str = "30s"
    pve_targets: Sequence[str] = ()
    pve_token: Optional[pulumi.Input[str]] = None  # "user@realm!tokenid=secret", a secret
    pve_verify_tls: bool = True  # off only when the caller says so
    incus_targets: Sequence[str] = ()
    incus_cert: Optional[pulumi.Input[str]] = None  # PEM client certificate (metrics type)
    incus_key: Optional[pulumi.Input[str]] = None  # PEM key, a secret
    incus_insecure_skip_verify: bool = False  # on only when the caller says so
    upstream: Optional[UpstreamArgs] = None
    mqtt_exporter: Optional[MqttExporterArgs] = None
    # Whether the local Prometheus is Grafana's default datasource.
    grafana_default: bool = True
    # Production: the releases own the Prometheus, Alertmanager and Loki volumes.
    protect: bool = False
    # Who needs Prometheus and Loki from outside the cluster (the network of the environment that
    # federates this one). Empty: both stay inside the cluster. Non-empty: both are published through
    # Traefik (`ingress_class`) over TLS from `cluster_issuer`, behind a login (components/monitoring/
    # publish.py says why the sources themselves cannot be checked there).
    allowed_sources: Sequence[str] = ()
    ingress_class: Optional[str] = None
    cluster_issuer: Optional[str] = None


def pve_exporter_config(token: str, verify_tls: bool) -> str:
    """pve.yml for prometheus-pve-exporter from an API token ``user@realm!tokenid=secret``."""
    try:
        identity, value = token.split("=", 1)
        user, token_name = identity.split("!", 1)
    except ValueError:
        raise ValueError("the PVE exporter token must look like user@realm!tokenid=secret") from None
    return render.dump(
        {"default": {"user": user, "token_name": token_name, "token_value": value, "verify_ssl": verify_tls}}
    )


class Monitoring(pulumi.ComponentResource):
    prometheus_url: pulumi.Output[str]
    alertmanager_url: pulumi.Output[str]
    loki_url: pulumi.Output[str]
    loki_push_url: pulumi.Output[str]
    prometheus_config: pulumi.Output[str]
    datasources: list

    def __init__(self, name: str, args: MonitoringArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        ns = args.namespace
        child = pulumi.ResourceOptions(parent=self)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": ns, "labels": {"app.kubernetes.io/part-of": "monitoring"}},
            opts=child,
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])  # namespace by name only
        created: list[pulumi.Resource] = [namespace]
        labels = {"app.kubernetes.io/part-of": "monitoring"}

        # --- Alertmanager config: a Secret, never a ConfigMap (webhook URLs are credentials).
        names = sorted(args.webhook_urls)
        am_text = pulumi.Output.all(*[args.webhook_urls[n] for n in names]).apply(
            lambda urls: render.alertmanager_config(args.alertmanager, dict(zip(names, urls)))
        )
        am_secret = k8s.core.v1.Secret(
            f"{name}-alertmanager-config",
            metadata={"name": ALERTMANAGER_SECRET, "namespace": ns, "labels": labels},
            type="Opaque",
            string_data={"alertmanager.yml": pulumi.Output.secret(am_text)},
            opts=in_ns,
        )
        secrets_ready: list[pulumi.Resource] = [am_secret]
        # Digests (not the values) of what each pod reads from a Secret: a rotation rolls the pod.
        am_checksum = pulumi.Output.unsecret(am_text.apply(checksum))
        incus_checksum: pulumi.Input[str] = ""

        # --- Incus metrics API client certificate.
        incus_secret = None
        if args.incus_targets:
            if args.incus_cert is None or args.incus_key is None:
                raise ValueError("incus_targets need incus_cert and incus_key")
            incus = k8s.core.v1.Secret(
                f"{name}-incus-metrics",
                metadata={"name": INCUS_SECRET, "namespace": ns, "labels": labels},
                type="kubernetes.io/tls",
                string_data={"tls.crt": args.incus_cert, "tls.key": pulumi.Output.secret(args.incus_key)},
                opts=in_ns,
            )
            incus_secret = INCUS_SECRET
            secrets_ready.append(incus)
            incus_checksum = pulumi.Output.unsecret(
                pulumi.Output.all(args.incus_cert, args.incus_key).apply(lambda pair: checksum(*pair)))

        # --- PVE exporter (multi-target: Prometheus passes ?target=<pve host>).
        pve = None
        if args.pve_targets:
            if args.pve_token is None:
                raise ValueError("pve_targets need pve_token")
            pve_cfg = k8s.core.v1.Secret(
                f"{name}-pve-exporter-config",
                metadata={"name": PVE_SECRET, "namespace": ns, "labels": labels},
                type="Opaque",
                string_data={
                    "pve.yml": pulumi.Output.secret(
                        pulumi.Output.from_input(args.pve_token).apply(
                            lambda t: pve_exporter_config(t, args.pve_verify_tls)
                        )
                    )
                },
                opts=in_ns,
            )
            created.append(pve_cfg)
            deployment, pve = _exporter(
                f"{name}-pve-exporter", PVE_EXPORTER, ns, labels, charts.PVE_EXPORTER_PORT, "http",
                container={
                    "image": charts.PVE_EXPORTER_IMAGE,
                    "args": ["--config.file=/etc/prometheus/pve.yml"],
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/prometheus", "readOnly": True},
                        # gunicorn's worker heartbeat files: the root filesystem is read-only.
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                },
                volumes=[
                    {"name": "config", "secret": {"secretName": PVE_SECRET}},
                    {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
                ],
                secret=pve_cfg, parent=self, in_ns=in_ns,
                secret_checksum=pulumi.Output.unsecret(pulumi.Output.from_input(args.pve_token).apply(checksum)),
            )
            created.append(deployment)

        # --- Mosquitto exporter (job "mosquitto": MqttBrokerDown watches it).
        mqtt = None
        if args.mqtt_exporter is not None:
            mq = args.mqtt_exporter
            mq_secret = k8s.core.v1.Secret(
                f"{name}-mosquitto-exporter-login",
                metadata={"name": MQTT_SECRET, "namespace": ns, "labels": labels},
                type="Opaque",
                string_data={"password": pulumi.Output.secret(mq.password)},
                opts=in_ns,
            )
            mq_deploy, mqtt = _exporter(
                f"{name}-mosquitto-exporter", MQTT_EXPORTER, ns, labels, charts.MQTT_EXPORTER_PORT, "metrics",
                container={
                    "image": charts.MQTT_EXPORTER_IMAGE,
                    "env": [
                        {"name": "BROKER_ENDPOINT", "value": mq.endpoint},
                        {"name": "MQTT_USER", "value": mq.user},
                        {"name": "MQTT_PASS", "valueFrom": {"secretKeyRef": {"name": MQTT_SECRET, "key": "password"}}},
                    ],
                },
                volumes=[],
                secret=mq_secret, parent=self, in_ns=in_ns,
                secret_checksum=pulumi.Output.unsecret(pulumi.Output.from_input(mq.password).apply(checksum)),
            )
            created += [mq_secret, mq_deploy, mqtt]

        # --- The upstream environment, published inside this cluster under fixed Service names
        # (selector-less Services whose EndpointSlices carry the addresses read from the upstream
        # stack): the federation job and Grafana's datasources refer to names known from config.
        upstream = args.upstream
        upstream_secret = None
        if upstream is not None:
            if upstream.prometheus_password is None or upstream.ca_pem is None:
                raise ValueError("the upstream's Prometheus is read over TLS with a login: "
                                 "upstream needs prometheus_password and ca_pem")
            # Mounted by the Prometheus server: basic_auth.password_file and tls_config.ca_file of
            # the federation job name these files; the password is never in the config itself.
            upstream_secret = k8s.core.v1.Secret(
                f"{name}-upstream-login",
                metadata={"name": upstream_login_secret(upstream.environment), "namespace": ns, "labels": labels},
                type="Opaque",
                string_data={"password": pulumi.Output.secret(upstream.prometheus_password), "ca.crt": upstream.ca_pem},
                opts=in_ns,
            )
            secrets_ready.append(upstream_secret)
            upstream_checksum = pulumi.Output.unsecret(
                pulumi.Output.all(upstream.prometheus_password, upstream.ca_pem).apply(lambda pair: checksum(*pair)))
            incus_checksum = pulumi.Output.all(incus_checksum, upstream_checksum).apply(lambda pair: checksum(*pair))
            for kind, url in (("prometheus", upstream.prometheus_url), ("loki", upstream.loki_url)):
                port = UPSTREAM_PORT
                service_name = upstream_service(kind, upstream.environment)
                target = pulumi.Output.from_input(url).apply(ip_endpoint)
                up_labels = {**labels, "homelab/upstream": upstream.environment}
                service = k8s.core.v1.Service(
                    f"{name}-upstream-{kind}",
                    metadata={"name": service_name, "namespace": ns, "labels": up_labels},
                    spec={"ports": [{"name": "https", "port": port, "protocol": "TCP"}]},
                    opts=in_ns,
                )
                created.append(service)
                created.append(k8s.discovery.v1.EndpointSlice(
                    f"{name}-upstream-{kind}",
                    metadata={
                        "name": service_name,
                        "namespace": ns,
                        "labels": {
                            **up_labels,
                            "kubernetes.io/service-name": service_name,
                            "endpointslice.kubernetes.io/managed-by": "pulumi.homelab",
                        },
                    },
                    address_type="IPv4",
                    endpoints=[{"addresses": [target.apply(lambda t: t[0])]}],
                    ports=[{"name": "https", "port": target.apply(lambda t: t[1]), "protocol": "TCP"}],
                    # The slice joins its Service by label; created alone it would serve no one.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
                ))

        # --- Prometheus + Alertmanager (+ node-exporter, kube-state-metrics).
        svc = f"{ns}.svc.cluster.local"
        rel = charts.PROMETHEUS_RELEASE
        static_jobs = tuple(args.static_jobs)
        if mqtt is not None:
            static_jobs += (render.StaticJob("mosquitto", (f"{MQTT_EXPORTER}.{svc}:{charts.MQTT_EXPORTER_PORT}",)),)
        base_spec = render.PrometheusSpec(
            environment=args.environment,
            cluster=args.cluster,
            kube_state_metrics=f"{rel}-kube-state-metrics.{svc}:8080",
            scrape_interval=args.scrape_interval,
            evaluation_interval=args.scrape_interval,
            static_jobs=static_jobs,
            pve=render.PveTargets(f"{PVE_EXPORTER}.{svc}:{charts.PVE_EXPORTER_PORT}", tuple(args.pve_targets))
            if args.pve_targets
            else None,
            incus=render.IncusTargets(tuple(args.incus_targets), args.incus_insecure_skip_verify)
            if args.incus_targets
            else None,
            federation=render.Federation(
                upstream.environment, upstream_urls(upstream.environment, ns)[0],
                username=upstream.username,
                server_name=publish.tls_name("prometheus", upstream.environment),
            )
            if upstream
            else None,
            alertmanager_targets=(f"{rel}-alertmanager.{svc}:{charts.ALERTMANAGER_PORT}",),
        )
        rules = render.alert_rules(args.rules)
        node_names = [n.name for n in args.k8s_nodes]

        def with_nodes(addresses: list) -> render.PrometheusSpec:
            nodes = tuple(render.K8sNode(n, str(a)) for n, a in zip(node_names, addresses))
            return dataclasses.replace(base_spec, k8s_nodes=nodes)

        # Node addresses may be provider outputs (a VM's address): render once they are known.
        addresses = pulumi.Output.all(*[n.address for n in args.k8s_nodes])
        self.prometheus_config = addresses.apply(lambda a: render.dump(render.prometheus_config(with_nodes(a))))
        prom_values = pulumi.Output.all(addresses, am_checksum, incus_checksum).apply(
            lambda v: render.prometheus_values(with_nodes(v[0]), args.prometheus, rules, ALERTMANAGER_SECRET,
                                               incus_secret, {"alertmanager": v[1], "server": v[2]},
                                               upstream_login_secret(upstream.environment) if upstream else None)
        )
        prometheus = k8s.helm.v3.Release(
            f"{name}-prometheus",
            name=rel,
            chart=charts.PROMETHEUS.name,
            version=charts.PROMETHEUS.version,
            repository_opts={"repo": charts.PROMETHEUS.repo},
            namespace=ns,
            values=prom_values,
            atomic=True,
            timeout=600,
            # Alertmanager and Prometheus mount these Secrets by name; the pods would not start
            # (and an atomic release would roll back) without them.
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=[namespace, *secrets_ready, *([pve] if pve else []), *([mqtt] if mqtt else [])],
            ),
        )

        # --- Loki (single binary) and a Service that publishes it to Alloy and other environments.
        loki = k8s.helm.v3.Release(
            f"{name}-loki",
            name=charts.LOKI_RELEASE,
            chart=charts.LOKI.name,
            version=charts.LOKI.version,
            repository_opts={"repo": charts.LOKI.repo},
            namespace=ns,
            values=render.loki_values(args.loki),
            atomic=True,
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[namespace]),
        )
        sources = sorted(args.allowed_sources, key=ipaddress.IPv4Network)
        loki_push = k8s.core.v1.Service(
            f"{name}-loki-push",
            metadata={"name": LOKI_SERVICE, "namespace": ns, "labels": labels},
            spec=service_spec(
                {
                    "app.kubernetes.io/name": "loki",
                    "app.kubernetes.io/instance": charts.LOKI_RELEASE,
                    "app.kubernetes.io/component": "single-binary",
                },
                charts.LOKI_PORT,
            ),
            opts=in_ns,
        )
        # Published (someone outside needs them): through Traefik, TLS, a login per service.
        self.credentials: dict[str, pulumi.Output[str]] = {}
        if sources:
            if any(ipaddress.IPv4Network(source).prefixlen == 0 for source in sources):
                raise ValueError("allowed_sources may not include 0.0.0.0/0")
            if not args.ingress_class or not args.cluster_issuer:
                raise ValueError("publishing Prometheus and Loki needs ingress_class and cluster_issuer (TLS)")
            for kind, service, port in (("prometheus", f"{rel}-server", charts.PROMETHEUS_PORT),
                                        ("loki", LOKI_SERVICE, charts.LOKI_PORT)):
                password, published = _publish(name, kind, args, service, port, labels, self, in_ns)
                self.credentials[kind] = password
                created += published
        self.username = publish.USERNAME
        alloy_rbac = _alloy_rbac(name, ns, labels, self)
        local_loki = f"http://{LOKI_SERVICE}.{svc}:{charts.LOKI_PORT}"
        alloy = k8s.helm.v3.Release(
            f"{name}-alloy",
            name=charts.ALLOY_RELEASE,
            chart=charts.ALLOY.name,
            version=charts.ALLOY.version,
            repository_opts={"repo": charts.ALLOY.repo},
            namespace=ns,
            values=render.alloy_values(
                render.AlloySpec(
                    push_url=f"{local_loki}/loki/api/v1/push",
                    environment=args.environment,
                    cluster=args.cluster,
                    node_taints=tuple(args.node_taints),
                )
            ),
            atomic=True,
            timeout=600,
            # Alloy pushes to Loki from its first second; shipping into a missing Loki only
            # produces retries and dropped lines. Its permissions (bound to the ServiceAccount by
            # name) must exist before it discovers pods.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, loki, *alloy_rbac]),
        )

        created += [*secrets_ready, *([pve] if pve else []), prometheus, loki, loki_push, *alloy_rbac, alloy]
        # Every child, for callers that must wait on all of them (tests, dependants).
        self.resources: tuple[pulumi.Resource, ...] = tuple(created)

        # Published through Traefik behind a login; otherwise reachable inside the cluster only.
        # Alertmanager never leaves the cluster.
        address = pulumi.Output.from_input(args.address)
        inside_prometheus, inside_loki = local_urls(ns)
        if sources:  # Traefik's HTTPS entrypoint on the cluster's front address; paths route (publish.ROUTES)
            self.prometheus_url = pulumi.Output.concat("https://", address)
            self.loki_url = pulumi.Output.concat("https://", address)
        else:
            self.prometheus_url = pulumi.Output.from_input(inside_prometheus)
            self.loki_url = pulumi.Output.from_input(inside_loki)
        self.alertmanager_url = pulumi.Output.from_input(f"http://{rel}-alertmanager.{svc}:{charts.ALERTMANAGER_PORT}")
        self.loki_push_url = pulumi.Output.concat(self.loki_url, "/loki/api/v1/push")
        self.datasources = grafana_datasources(
            args.environment, ns, upstream.environment if upstream else None, default=args.grafana_default
        )

        self.register_outputs(
            {
                "prometheus_url": self.prometheus_url,
                "alertmanager_url": self.alertmanager_url,
                "loki_url": self.loki_url,
                "loki_push_url": self.loki_push_url,
            }
        )


# Exporters run as nobody on a read-only root filesystem.
EXPORTER_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
}


def _exporter(
    resource_name: str,
    app: str,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    port: int,
    port_name: str,
    *,
    container: dict,
    volumes: list[dict],
    secret: k8s.core.v1.Secret,
    parent: pulumi.Resource,
    in_ns: pulumi.ResourceOptions,
    secret_checksum: pulumi.Input[str],
) -> tuple[k8s.apps.v1.Deployment, k8s.core.v1.Service]:
    """A one-replica exporter Deployment (`container` gives image, args/env, mounts) and its Service."""
    app_labels = {"app.kubernetes.io/name": app, **labels}
    pod_spec: dict = {"containers": [{
        "name": app,
        **container,
        "ports": [{"name": port_name, "containerPort": port}],
        "securityContext": EXPORTER_SECURITY,
    }]}
    if volumes:
        pod_spec["volumes"] = volumes
    deployment = k8s.apps.v1.Deployment(
        resource_name,
        metadata={"name": app, "namespace": namespace, "labels": app_labels},
        spec={
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            # The digest of the Secret it reads: a rotated token or password rolls the pod.
            "template": {"metadata": {"labels": app_labels, "annotations": {"checksum/secret": secret_checksum}},
                         "spec": pod_spec},
        },
        # The pod reads `secret` by name (a mount or an env reference): without it, it would not start.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[secret]),
    )
    service = k8s.core.v1.Service(
        resource_name,
        metadata={"name": app, "namespace": namespace, "labels": app_labels},
        spec={
            "selector": {"app.kubernetes.io/name": app},
            "ports": [{"name": port_name, "port": port, "targetPort": port_name}],
        },
        opts=in_ns,
    )
    return deployment, service


def service_spec(selector: Mapping[str, str], port: int) -> dict:
    """A ClusterIP Service for `port`: nothing of monitoring is a LoadBalancer or a NodePort
    (what leaves the cluster goes through Traefik behind a login: `_publish`)."""
    return {"type": "ClusterIP", "selector": dict(selector),
            "ports": [{"name": "http", "port": port, "targetPort": port}]}


def _publish(name: str, kind: str, args: MonitoringArgs, service: str, port: int, labels: Mapping[str, str],
             parent: pulumi.Resource, in_ns: pulumi.ResourceOptions) -> tuple[pulumi.Output[str], list]:
    """`service:port` behind Traefik: a password made by the provider, the basicAuth Secret holding
    only its bcrypt hash, the Middleware, and the Ingress (TLS from the cluster issuer)."""
    ns = args.namespace
    password = random.RandomPassword(f"{name}-{kind}-password", length=32, special=False,
                                     opts=pulumi.ResourceOptions(parent=parent))
    users = pulumi.Output.secret(password.bcrypt_hash).apply(lambda h: publish.users_file(publish.USERNAME, h))
    secret = k8s.core.v1.Secret(
        f"{name}-{kind}-basic-auth",
        metadata={"name": publish.auth_secret(kind), "namespace": ns, "labels": dict(labels)},
        type="Opaque",
        string_data={"users": pulumi.Output.secret(users)},
        opts=in_ns,
    )
    middleware = publish.Middleware(
        f"{name}-{kind}-login",
        metadata={"name": publish.middleware_name(kind), "namespace": ns, "labels": dict(labels)},
        spec=publish.middleware_spec(kind),
        # Traefik reads the Secret when it loads the middleware.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[secret]),
    )
    manifest = publish.ingress(kind, ns, args.environment, service, port, args.ingress_class or "",
                               args.cluster_issuer or "", labels)
    ingress = k8s.networking.v1.Ingress(
        f"{name}-{kind}-external",
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        # A router whose middleware is missing answers nothing: no window without the login.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[middleware]),
    )
    return pulumi.Output.secret(password.result), [password, secret, middleware, ingress]


def upstream_login_secret(environment: str) -> str:
    """The Secret (monitoring namespace) the federation job reads the upstream's password and CA from."""
    return f"upstream-{environment}-login"


def grafana_upstream_secret(environment: str) -> str:
    """The Secret (Grafana's namespace) its pod takes the upstream's passwords and CA from."""
    return f"monitoring-upstream-{environment}"


def _env_var(environment: str, what: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", f"UPSTREAM_{environment}_{what}".upper())


def grafana_upstream_env(environment: str) -> dict[str, tuple[str, str]]:
    """Grafana environment variable -> (Secret, key) for the upstream's datasources."""
    secret = grafana_upstream_secret(environment)
    return {
        _env_var(environment, "prometheus_password"): (secret, "prometheus-password"),
        _env_var(environment, "loki_password"): (secret, "loki-password"),
        _env_var(environment, "ca"): (secret, "ca.crt"),
    }


def upstream_logins(environment: str) -> dict[str, render.DatasourceLogin]:
    """How Grafana logs in to the upstream's published Prometheus and Loki."""
    return {
        kind: render.DatasourceLogin(publish.USERNAME, publish.tls_name(kind, environment),
                                     _env_var(environment, f"{kind}_password"), _env_var(environment, "ca"))
        for kind in publish.KINDS
    }


def _alloy_rbac(name: str, namespace: str, labels: Mapping[str, str],
                parent: pulumi.Resource) -> list[pulumi.Resource]:
    """The ClusterRole Alloy's config needs (ALLOY_RULES), bound to the chart's ServiceAccount
    (`alloy`: the release name, grafana/alloy helm-chart/1.1.2 _helpers.tpl alloy.serviceAccountName)."""
    opts = pulumi.ResourceOptions(parent=parent)
    role = k8s.rbac.v1.ClusterRole(
        f"{name}-alloy-role",
        metadata={"name": ALLOY_RBAC, "labels": dict(labels)},
        rules=[dict(rule) for rule in ALLOY_RULES],
        opts=opts,
    )
    binding = k8s.rbac.v1.ClusterRoleBinding(
        f"{name}-alloy-binding",
        metadata={"name": ALLOY_RBAC, "labels": dict(labels)},
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ALLOY_RBAC},
        subjects=[{"kind": "ServiceAccount", "name": charts.ALLOY_RELEASE, "namespace": namespace}],
        opts=opts,
    )
    return [role, binding]


def local_urls(namespace: str) -> tuple[str, str]:
    """In-cluster Prometheus and Loki URLs (what a Grafana in the same cluster queries)."""
    svc = f"{namespace}.svc.cluster.local"
    return (
        f"http://{charts.PROMETHEUS_RELEASE}-server.{svc}:{charts.PROMETHEUS_PORT}",
        f"http://{LOKI_SERVICE}.{svc}:{charts.LOKI_PORT}",
    )


def upstream_service(kind: str, environment: str) -> str:
    return f"{kind}-{environment}"


UPSTREAM_PORT = 443  # the upstream's Traefik (HTTPS entrypoint)


def upstream_urls(environment: str, namespace: str) -> tuple[str, str]:
    """In-cluster URLs of the upstream's Prometheus and Loki (through the upstream Services, to
    the upstream's Traefik; the paths route, publish.ROUTES)."""
    svc = f"{namespace}.svc.cluster.local"
    return (
        f"https://{upstream_service('prometheus', environment)}.{svc}:{UPSTREAM_PORT}",
        f"https://{upstream_service('loki', environment)}.{svc}:{UPSTREAM_PORT}",
    )


def ip_endpoint(url: str) -> tuple[str, int]:
    """(IPv4 address, port) of an upstream endpoint URL such as ``http://10.30.0.21:9090``."""
    parts = urlsplit(url)
    try:
        address = ipaddress.IPv4Address(parts.hostname or "")
    except ValueError:
        raise ValueError(f"upstream endpoint must be http(s)://<IPv4>:<port>, got {url!r}") from None
    return str(address), parts.port or (443 if parts.scheme == "https" else 80)


def grafana_datasources(
    environment: str, namespace: str, upstream: Optional[str] = None, *, default: bool = True
) -> list[dict]:
    """Grafana provisioning datasources: local Prometheus (default) and Loki, plus the upstream's.

    Plain values derived from names only (no Output, no resource): the metrics stack's Grafana
    takes them before this component exists. ``upstream`` is the upstream environment's name.
    """
    prom, loki = local_urls(namespace)
    up = (upstream, *upstream_urls(upstream, namespace)) if upstream else None
    entries = render.datasources(environment, prom, loki, up, upstream_logins(upstream) if upstream else None)
    return entries if default else [{**e, "isDefault": False} for e in entries]
