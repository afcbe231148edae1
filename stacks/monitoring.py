"""Wiring of monitoring (Prometheus, Alertmanager, Loki, Alloy) and federation of an upstream."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pulumi

from components.monitoring import publish
from components.monitoring import (
    Monitoring,
    MonitoringArgs,
    MqttExporterArgs,
    UpstreamArgs,
    grafana_datasources as component_datasources,
    render,
)

from components.monitoring import component
from components.mtig import Datasource, SecretRef

from .config import monitoring as section
from .config.model import EnvironmentConfig
from .config.names import PACKAGED_INGRESS
from .outputs import CONTRACT_VERSION
from .secrets import Secrets
from .hosts import Cluster, HostRegistry


def upstream_environment(cfg: EnvironmentConfig) -> str | None:
    """The upstream's environment (stack) name: the last part of `organization/homelab/<stack>`."""
    return cfg.upstream.rsplit("/", 1)[1] if cfg.upstream else None


def enabled(cfg: EnvironmentConfig) -> bool:
    return cfg.monitoring is not None and cfg.monitoring.enabled


def datasource_entries(cfg: EnvironmentConfig) -> list[dict]:
    """Prometheus (default unless `grafana_default: false`) and Loki, plus the upstream's.

    Plain provisioning entries from config alone, for the metrics stack's Grafana (its
    `extra_datasources`): the upstream's are reached through local Services this layer creates.
    """
    if not enabled(cfg):
        return []
    return component_datasources(
        cfg.environment.name,
        cfg.monitoring.namespace,
        upstream_environment(cfg),
        default=cfg.monitoring.grafana_default,
    )


def grafana_datasources(cfg: EnvironmentConfig) -> list[Datasource]:
    """What this layer offers the metrics stack's Grafana (`stacks.mtig.deploy` asks for it):
    `datasource_entries` as its `Datasource` objects."""
    return [
        Datasource(name=d["name"], type=d["type"], url=d["url"], uid=d["uid"], is_default=d["isDefault"],
                   access=d["access"], json_data=d.get("jsonData", {}), basic_auth_user=d.get("basicAuthUser"),
                   # "${VAR}" -> VAR: the Grafana pod takes VAR from a Secret (grafana_upstream)
                   secure_env={k: v[2:-1] for k, v in d.get("secureJsonData", {}).items()})
        for d in datasource_entries(cfg)
    ]


def grafana_upstream(upstream: UpstreamArgs | None) -> tuple[dict, dict[str, SecretRef]]:
    """The Secret (in Grafana's namespace, made before Grafana) holding the upstream's passwords and
    CA, and the Grafana environment variables that read it; nothing without an upstream."""
    if upstream is None:
        return {}, {}
    values = {"prometheus-password": upstream.prometheus_password, "loki-password": upstream.loki_password,
              "ca.crt": upstream.ca_pem}
    env = component.grafana_upstream_env(upstream.environment)
    return ({component.grafana_upstream_secret(upstream.environment): {k: values[k] for _, k in env.values()}},
            {var: SecretRef(name, key) for var, (name, key) in env.items()})


def _check_contract(version: Any, ref: str) -> Any:
    if version is not None and str(version).split(".")[0] != CONTRACT_VERSION.split(".")[0]:
        raise ValueError(f"upstream {ref} exports contract_version {version}, this program reads {CONTRACT_VERSION}")
    return version


def _endpoint(endpoints: Any, key: str, ref: str) -> str:
    url = (endpoints or {}).get(key)
    if not url:
        raise ValueError(f"upstream {ref} exports no {key} endpoint (is its monitoring enabled?)")
    if ".svc.cluster.local" in url:
        raise ValueError(f"upstream {ref} keeps its {key} inside its cluster ({url}): list this environment's "
                         "network in its monitoring.allowed_sources")
    return url


def _credential(credentials: Any, kind: str, ref: str) -> str:
    entry = (credentials or {}).get(kind) or {}
    if not entry.get("password"):
        raise ValueError(f"upstream {ref} exports no monitoring_credentials.{kind} (contract 2.2: its "
                         "Prometheus and Loki behind a login); run `pulumi up` on it first")
    if entry.get("username") != publish.USERNAME:
        raise ValueError(f"upstream {ref} exports monitoring_credentials.{kind} for another user than "
                         f"{publish.USERNAME!r}")
    return entry["password"]


def _root_pem(ca: Any, ref: str) -> str:
    pem = (ca or {}).get("root_pem")
    if not pem:
        raise ValueError(f"upstream {ref} exports no ca.root_pem: its published services are checked against it")
    return pem


def read_upstream(cfg: EnvironmentConfig) -> UpstreamArgs | None:
    """The upstream stack's Prometheus and Loki endpoints, login and CA, read through a StackReference.

    The passwords arrive as secret Outputs (a secret stack output stays secret through a
    StackReference) and only ever reach Kubernetes Secrets.
    """
    if not cfg.upstream:
        return None
    ref = pulumi.StackReference(cfg.upstream)
    version = ref.get_output("contract_version").apply(lambda v: _check_contract(v, cfg.upstream))
    endpoints = pulumi.Output.all(ref.get_output("endpoints"), version).apply(lambda a: a[0])
    credentials = pulumi.Output.secret(
        pulumi.Output.all(ref.get_output("monitoring_credentials"), version).apply(lambda a: a[0]))
    return UpstreamArgs(
        environment=upstream_environment(cfg),
        prometheus_url=endpoints.apply(lambda e: _endpoint(e, "prometheus", cfg.upstream)),
        loki_url=endpoints.apply(lambda e: _endpoint(e, "loki", cfg.upstream)),
        prometheus_password=pulumi.Output.secret(credentials.apply(lambda c: _credential(c, "prometheus", cfg.upstream))),
        loki_password=pulumi.Output.secret(credentials.apply(lambda c: _credential(c, "loki", cfg.upstream))),
        ca_pem=ref.get_output("ca").apply(lambda c: _root_pem(c, cfg.upstream)),
    )


#: `deploy` reads the upstream itself unless the program already did (it reads it once, before the
#: metrics stack, whose Grafana needs the upstream's login).
READ = object()


def node_taints(cfg: EnvironmentConfig, cluster: Cluster) -> tuple[str, ...]:
    """Every taint the cluster's nodes are registered with (k3s `node-taint`), sorted and unique."""
    return tuple(sorted({taint for spec in (cfg.k3s.clusters if cfg.k3s else ()) if spec.name == cluster.name
                         for taints in spec.node_taints.values() for taint in taints}))


def k3s_nodes(cfg: EnvironmentConfig, cluster: Cluster, hosts: HostRegistry | None) -> tuple[render.K8sNode, ...]:
    """The cluster's nodes with their addresses: its servers and agents from the k3s config
    (else the hosts in a k3s group), looked up in the host registry."""
    if hosts is None:
        return ()
    names: list[str] = []
    for spec in getattr(cfg.k3s, "clusters", None) or ():
        if getattr(spec, "name", None) == cluster.name:
            names = [*spec.servers, *spec.agents]
    if not names:
        names = [h.name for h in hosts.all() if any(g.replace("_", "-").split("-")[0] == "k3s" for g in h.groups)]
    return tuple(render.K8sNode(n, hosts.get(n).address) for n in sorted(set(names)) if n in hosts)


def alertmanager_spec(am: section.AlertmanagerConfig) -> render.AlertmanagerSpec:
    """The Alertmanager routing tree from config (webhook URLs come separately, as secrets)."""
    return render.AlertmanagerSpec(
        receiver=am.receiver,
        receivers=tuple(render.Receiver(r.name, r.webhook, r.send_resolved) for r in am.receivers),
        routes=tuple(render.Route(r.receiver, tuple(r.matchers), tuple(r.group_by), r.continue_) for r in am.routes),
        group_by=tuple(am.group_by),
    )


def _metrics_jobs(metrics: Any) -> tuple[render.StaticJob, ...]:
    """Scrape jobs for the metrics stack: InfluxDB's /metrics and Telegraf's Prometheus output."""
    if metrics is None:
        return ()
    jobs = []
    namespace = getattr(metrics, "namespace", None)
    if namespace:
        jobs.append(render.StaticJob("influxdb", (f"influxdb.{namespace}.svc.cluster.local:80",)))  # its Service port
    target = getattr(metrics, "telegraf_metrics_target", None)
    if isinstance(target, str) and target:
        jobs.append(render.StaticJob("telegraf", (target,)))
    return tuple(jobs)


def deploy(
    cfg: EnvironmentConfig,
    secrets: Secrets,
    cluster: Cluster | None,
    metrics: Any,
    hosts: HostRegistry | None = None,
    upstream: Any = READ,
) -> Monitoring | None:
    """Deploy monitoring on the environment's cluster (nothing without one)."""
    if not enabled(cfg):
        return None
    # Read first, cluster or not: a wrong or incompatible upstream shows up on every preview.
    if upstream is READ:
        upstream = read_upstream(cfg)
    if cluster is None:
        return None
    mon = cfg.monitoring
    env = cfg.environment
    mqtt = None
    namespace = getattr(metrics, "namespace", None) if metrics is not None else None
    if mon.mqtt_exporter and namespace:
        mqtt = MqttExporterArgs(
            endpoint=f"tcp://mosquitto.{namespace}.svc.cluster.local:1883",
            user=mon.mqtt_exporter.user,
            password=secrets.require(section.mqtt_password(mon.mqtt_exporter.user)),
        )
    static_jobs = _metrics_jobs(metrics)
    if mon.node_targets:
        static_jobs += (render.StaticJob("hosts", tuple(mon.node_targets)),)

    args = MonitoringArgs(
        environment=env.name,
        cluster=cluster.name,
        namespace=mon.namespace,
        # k3s ServiceLB answers on the nodes' addresses: the API endpoint's host is one of them.
        address=cluster.api_endpoint.apply(lambda url: urlsplit(url).hostname or ""),
        k8s_nodes=k3s_nodes(cfg, cluster, hosts),
        node_taints=node_taints(cfg, cluster),
        prometheus=render.StorageSpec(mon.prometheus.retention, mon.prometheus.volume_size, mon.prometheus.storage_class),
        loki=render.StorageSpec(mon.loki.retention, mon.loki.volume_size, mon.loki.storage_class),
        alertmanager=alertmanager_spec(mon.alertmanager),
        webhook_urls={
            r.name: secrets.require(section.webhook_secret(r.name)) for r in mon.alertmanager.receivers if r.webhook
        },
        static_jobs=static_jobs,
        rules=render.RuleSpec(disk_free_percent=mon.prometheus.disk_free_percent, mqtt_expected=mqtt is not None),
        scrape_interval=mon.prometheus.scrape_interval,
        pve_targets=tuple(mon.proxmox.targets) if mon.proxmox else (),
        pve_token=secrets.require(section.PVE_TOKEN) if mon.proxmox and mon.proxmox.targets else None,
        pve_verify_tls=mon.proxmox.verify_tls if mon.proxmox else True,
        incus_targets=tuple(mon.incus.targets) if mon.incus else (),
        incus_cert=secrets.require(section.INCUS_CERT) if mon.incus and mon.incus.targets else None,
        incus_key=secrets.require(section.INCUS_KEY) if mon.incus and mon.incus.targets else None,
        incus_insecure_skip_verify=mon.incus.insecure_skip_verify if mon.incus else False,
        upstream=upstream,
        mqtt_exporter=mqtt,
        grafana_default=mon.grafana_default,
        protect=env.production,
        allowed_sources=tuple(str(net) for net in mon.allowed_sources),
        # k3s's packaged Traefik (config checks it is not disabled when allowed_sources is set) and the
        # lab CA's issuer (required then too).
        ingress_class=PACKAGED_INGRESS["traefik"],
        cluster_issuer=cfg.ca.issuer_name if cfg.ca is not None else None,
    )
    return Monitoring(
        f"{env.name}-monitoring",
        args,
        opts=pulumi.ResourceOptions(providers=[cluster.provider]),
    )
