"""Pure renderers for the monitoring stack: plain data in, text or dicts out.

Nothing here touches Pulumi: the component calls these (inside ``Output.apply`` where an input is
an Output), the tests call them directly and feed the results to ``promtool`` and ``amtool``.
Every YAML document goes through ``yaml.safe_dump(sort_keys=True)`` so that the same input always
gives byte-identical output.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

import jinja2
import yaml

TEMPLATES = Path(__file__).parent / "templates"

# Where the prometheus chart mounts its ConfigMap (serverFiles) inside the server container.
CHART_CONFIG_DIR = "/etc/config"
# Where the server container sees its service account.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Where the component mounts the Incus metrics client certificate (a Kubernetes Secret).
INCUS_CERT_DIR = "/etc/prometheus-secrets/incus"
# The upstream's password and CA, mounted from a Secret for the federation job.
UPSTREAM_DIR = "/etc/prometheus-secrets/upstream"
# The rule file name inside the chart's serverFiles.
RULES_FILE = "alerting_rules.yml"

# Jobs whose `up` series stand for a host: a host is down when one of them fails.
HOST_JOBS = ("hosts", "incus", "node-exporter", "nodes", "pve")

_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus/Loki duration such as ``15d`` or ``1h30m``; ValueError otherwise."""
    match = _DURATION.match(text or "")
    if not text or not match or not any(match.groups()):
        raise ValueError(f"not a duration such as 15d, 12h or 1h30m: {text!r}")
    return sum(int(v) * unit for v, unit in zip(match.groups(), _UNIT_SECONDS) if v)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def dump(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=False)


def load_values(name: str) -> dict:
    """A static base values file from templates/ (a chart's values we do not compute)."""
    return yaml.safe_load((TEMPLATES / name).read_text())


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict:
    """Helm-style merge: maps merge key by key, everything else (lists too) is replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --------------------------------------------------------------------------------------------
# Scrape targets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaticJob:
    """A plain scrape job over fixed ``host:port`` targets (metrics stack, extra hosts)."""

    job: str
    targets: tuple[str, ...]
    metrics_path: str = "/metrics"
    scheme: str = "http"


@dataclass(frozen=True)
class PveTargets:
    """Proxmox VE hosts scraped through prometheus-pve-exporter (``exporter`` is host:port)."""

    exporter: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class IncusTargets:
    """Incus hosts' metrics API (``host:8443``), authenticated with a metrics client certificate."""

    targets: tuple[str, ...]
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class Federation:
    """The upstream environment this Prometheus federates."""

    environment: str
    prometheus_url: str
    # The upstream's login and the name in its certificate (components/monitoring/publish.py);
    # the password and CA are files (Paths.upstream_dir), never values in the config.
    username: str | None = None
    server_name: str | None = None


@dataclass(frozen=True)
class PrometheusSpec:
    environment: str
    cluster: str
    k8s_nodes: tuple[K8sNode, ...] = ()
    apiserver: str = "kubernetes.default.svc:443"
    kube_state_metrics: str = "prometheus-kube-state-metrics.monitoring.svc:8080"
    scrape_interval: str = "30s"
    evaluation_interval: str = "30s"
    static_jobs: tuple[StaticJob, ...] = ()
    pve: PveTargets | None = None
    incus: IncusTargets | None = None
    federation: Federation | None = None
    alertmanager_targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Paths:
    """Filesystem locations the rendered config refers to (tests point them at a temp dir)."""

    config_dir: str = CHART_CONFIG_DIR
    service_account_dir: str = SERVICE_ACCOUNT_DIR
    incus_cert_dir: str = INCUS_CERT_DIR
    upstream_dir: str = UPSTREAM_DIR


def _k8s_auth(paths: Paths) -> dict:
    return {
        "authorization": {"credentials_file": f"{paths.service_account_dir}/token"},
        "tls_config": {"ca_file": f"{paths.service_account_dir}/ca.crt"},
    }


@dataclass(frozen=True)
class K8sNode:
    """A k3s node: its Kubernetes node name and the address node-exporter listens on."""

    name: str
    address: Any  # str when rendering; the component passes provider outputs until resolved


def _kubernetes_jobs(spec: "PrometheusSpec", paths: Paths) -> list[dict]:
    """Node and k3s metrics: API server, kubelet, cAdvisor, node-exporter, kube-state-metrics.

    Static targets from the declared nodes rather than kubernetes_sd: a node that vanishes stays a
    target and its `up` turns 0 (HostDown fires) instead of silently dropping out of discovery.
    Kubelet and cAdvisor are reached through the API server's node proxy, so the kubelet's serving
    certificate needs no extra trust and the ServiceAccount token is the only credential.
    """
    nodes = sorted(spec.k8s_nodes, key=lambda n: n.name)
    if not nodes:
        return []

    def via_proxy(suffix: str) -> list[dict]:
        return [
            {"source_labels": ["node"], "target_label": "__metrics_path__", "regex": "(.+)",
             "replacement": f"/api/v1/nodes/$1/proxy/metrics{suffix}"},
            {"source_labels": ["node"], "target_label": "instance"},
        ]

    per_node = [{"targets": [spec.apiserver], "labels": {"node": n.name}} for n in nodes]
    return [
        {
            "job_name": "kubernetes-apiservers",
            "scheme": "https",
            **_k8s_auth(paths),
            "static_configs": [{"targets": [spec.apiserver]}],
        },
        {
            "job_name": "nodes",
            "scheme": "https",
            **_k8s_auth(paths),
            "static_configs": per_node,
            "relabel_configs": via_proxy(""),
        },
        {
            "job_name": "cadvisor",
            "scheme": "https",
            **_k8s_auth(paths),
            "static_configs": copy.deepcopy(per_node),
            "relabel_configs": via_proxy("/cadvisor"),
        },
        {
            "job_name": "node-exporter",
            "static_configs": [
                {"targets": [f"{n.address}:9100"], "labels": {"node": n.name}} for n in nodes
            ],
            "relabel_configs": [{"source_labels": ["node"], "target_label": "instance"}],
        },
        {
            "job_name": "kube-state-metrics",
            "honor_labels": True,
            "static_configs": [{"targets": [spec.kube_state_metrics]}],
        },
    ]


def federation_job(federation: Federation, paths: Paths = Paths()) -> dict:
    """Scrape the upstream Prometheus' /federate endpoint.

    ``honor_labels`` keeps the upstream's job/instance labels (and the ``environment`` external
    label the upstream adds to every federated series), so its series never collide with ours.
    The match[] selector takes every series the upstream scraped itself and leaves out what it
    federated from further up (jobs named federate-*) and its ALERTS series (its Alertmanager
    already has those): nothing travels twice.
    """
    url = urlsplit(federation.prometheus_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(f"upstream Prometheus URL must be http(s)://host:port, got {federation.prometheus_url!r}")
    job = {
        "job_name": f"federate-{federation.environment}",
        "honor_labels": True,
        "metrics_path": (url.path.rstrip("/") or "") + "/federate",
        "scheme": url.scheme,
        "scrape_interval": "60s",
        "scrape_timeout": "30s",
        "params": {"match[]": ['{job!="",job!~"federate-.*",__name__!~"ALERTS.*"}']},
        "static_configs": [{"targets": [url.netloc], "labels": {"federated_from": federation.environment}}],
    }
    if federation.username:
        # Prometheus reads the password from the file at every scrape (never inline in this file).
        job["basic_auth"] = {"username": federation.username, "password_file": f"{paths.upstream_dir}/password"}
    if url.scheme == "https":
        job["tls_config"] = {"ca_file": f"{paths.upstream_dir}/ca.crt"}
        if federation.server_name:
            job["tls_config"]["server_name"] = federation.server_name
    return job


def prometheus_config(spec: PrometheusSpec, paths: Paths = Paths()) -> dict:
    """The whole prometheus.yml as a dict (what the chart's ConfigMap ends up holding)."""
    jobs: list[dict] = [
        {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
        *_kubernetes_jobs(spec, paths),
    ]
    for job in sorted(spec.static_jobs, key=lambda j: j.job):
        if not job.targets:
            continue
        jobs.append(
            {
                "job_name": job.job,
                "metrics_path": job.metrics_path,
                "scheme": job.scheme,
                "static_configs": [{"targets": sorted(job.targets)}],
            }
        )
    if spec.pve and spec.pve.targets:
        # prometheus-pve-exporter: `cluster=1` returns the cluster-wide metrics (every guest, storage,
        # HA state) from whichever node is asked, `node=1` that node's own. Cluster metrics from
        # every node would count each guest once per node: one job per node with node=1 only, and
        # one target (the first) with cluster=1 only (the exporter's README, "cluster"/"node" params).
        def pve_job(name: str, cluster: str, node: str, targets: list[str]) -> dict:
            return {"job_name": name, "metrics_path": "/pve",
                    "params": {"module": ["default"], "cluster": [cluster], "node": [node]},
                    "static_configs": [{"targets": targets}],
                    "relabel_configs": [
                        {"source_labels": ["__address__"], "target_label": "__param_target"},
                        {"source_labels": ["__param_target"], "target_label": "instance"},
                        {"target_label": "__address__", "replacement": spec.pve.exporter},
                    ]}

        targets = sorted(spec.pve.targets)
        jobs.append(pve_job("pve", "0", "1", targets))
        jobs.append(pve_job("pve-cluster", "1", "0", targets[:1]))
    if spec.incus and spec.incus.targets:
        jobs.append(
            {
                "job_name": "incus",
                "metrics_path": "/1.0/metrics",
                "scheme": "https",
                "tls_config": {
                    "cert_file": f"{paths.incus_cert_dir}/tls.crt",
                    "key_file": f"{paths.incus_cert_dir}/tls.key",
                    "insecure_skip_verify": spec.incus.insecure_skip_verify,
                },
                "static_configs": [{"targets": sorted(spec.incus.targets)}],
            }
        )
    if spec.federation:
        jobs.append(federation_job(spec.federation, paths))

    config: dict = {
        "global": {
            "scrape_interval": spec.scrape_interval,
            "evaluation_interval": spec.evaluation_interval,
            # Added to every series this Prometheus hands on (federation, alerts): the label the
            # federating environment and Alertmanager use to tell environments apart.
            "external_labels": {"environment": spec.environment, "cluster": spec.cluster},
        },
        "rule_files": [f"{paths.config_dir}/{RULES_FILE}"],
        "scrape_configs": jobs,
    }
    if spec.alertmanager_targets:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": sorted(spec.alertmanager_targets)}]}]
        }
    return config


@dataclass(frozen=True)
class RuleSpec:
    disk_free_percent: int = 10
    host_down_for: str = "5m"
    # The environment runs a Mosquitto exporter: its absence is an alert too.
    mqtt_expected: bool = True


def alert_rules(spec: RuleSpec = RuleSpec()) -> str:
    """The alerting rule file (YAML text); only series scraped in this environment can fire."""
    text = _env().get_template("alerting_rules.yml.j2").render(
        local='environment=""',
        host_jobs="|".join(HOST_JOBS),
        disk_free_percent=spec.disk_free_percent,
        host_down_for=spec.host_down_for,
        mqtt_expected=spec.mqtt_expected,
    )
    # Round-trip: proves it is YAML and normalises it (sorted keys, stable layout).
    return dump(yaml.safe_load(text))


# --------------------------------------------------------------------------------------------
# Alertmanager
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receiver:
    name: str
    webhook: bool = False  # a webhook receiver; its URL is a secret passed to alertmanager_config
    send_resolved: bool = True


@dataclass(frozen=True)
class Route:
    receiver: str
    matchers: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    continue_: bool = False


@dataclass(frozen=True)
class AlertmanagerSpec:
    receiver: str
    receivers: tuple[Receiver, ...]
    routes: tuple[Route, ...] = ()
    group_by: tuple[str, ...] = ("alertname", "environment")
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"


def alertmanager_config(spec: AlertmanagerSpec, webhook_urls: Mapping[str, str]) -> str:
    """alertmanager.yml text. ``webhook_urls`` maps receiver name -> URL (secret values)."""
    known = {r.name for r in spec.receivers}
    for name in [spec.receiver, *(r.receiver for r in spec.routes)]:
        if name not in known:
            raise ValueError(f"route receiver {name!r} is not defined (receivers: {sorted(known)})")
    receivers = []
    for receiver in sorted(spec.receivers, key=lambda r: r.name):
        entry: dict = {"name": receiver.name}
        if receiver.webhook:
            if receiver.name not in webhook_urls:
                raise ValueError(f"no webhook URL for receiver {receiver.name!r}")
            entry["webhook_configs"] = [
                {"url": webhook_urls[receiver.name], "send_resolved": receiver.send_resolved}
            ]
        receivers.append(entry)

    def route(r: Route) -> dict:
        out: dict = {"receiver": r.receiver}
        if r.matchers:
            out["matchers"] = list(r.matchers)
        if r.group_by:
            out["group_by"] = list(r.group_by)
        if r.continue_:
            out["continue"] = True
        return out

    root: dict = {
        "receiver": spec.receiver,
        "group_by": list(spec.group_by),
        "group_wait": spec.group_wait,
        "group_interval": spec.group_interval,
        "repeat_interval": spec.repeat_interval,
    }
    if spec.routes:
        root["routes"] = [route(r) for r in spec.routes]
    return dump({"route": root, "receivers": receivers})


# --------------------------------------------------------------------------------------------
# Chart values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StorageSpec:
    retention: str
    volume_size: str
    storage_class: str | None = None


def prometheus_values(
    spec: PrometheusSpec,
    storage: StorageSpec,
    rules: str,
    alertmanager_secret: str,
    incus_secret: str | None = None,
    checksums: Mapping[str, str] | None = None,
    upstream_secret: str | None = None,
) -> dict:
    """Values for prometheus-community/prometheus.

    `checksums` ("alertmanager", "server": digests of the Secrets each mounts) become pod
    annotations: a rotated webhook or client certificate rolls the pods that read it (day 2).

    The chart writes ``server.global`` as the ``global:`` block of prometheus.yml, then the rest of
    ``serverFiles."prometheus.yml"``, then ``alerting:`` from ``server.alertmanagers``: together
    exactly the document ``prometheus_config`` returns (and the tests check with promtool).
    """
    parse_duration(storage.retention)
    config = prometheus_config(spec)
    body = {k: v for k, v in config.items() if k not in ("global", "alerting")}
    server: dict = {
        "global": config["global"],
        "retention": storage.retention,
        "persistentVolume": {"size": storage.volume_size},
        "extraSecretMounts": [],
    }
    if storage.storage_class:
        server["persistentVolume"]["storageClass"] = storage.storage_class
    if "alerting" in config:
        server["alertmanagers"] = config["alerting"]["alertmanagers"]
    if incus_secret:
        server["extraSecretMounts"].append(
            {"name": "incus-metrics", "mountPath": INCUS_CERT_DIR, "secretName": incus_secret, "readOnly": True}
        )
    if upstream_secret:
        server["extraSecretMounts"].append(
            {"name": "upstream-login", "mountPath": UPSTREAM_DIR, "secretName": upstream_secret, "readOnly": True}
        )
    checksums = checksums or {}
    # Without the lifecycle API nothing reloads a changed config: a changed checksum rolls the pod;
    # a rotated Secret it mounts (day 2) does too.
    server["podAnnotations"] = {"checksum/config": hashlib.sha256((dump(body) + rules).encode()).hexdigest()}
    if checksums.get("server"):
        server["podAnnotations"]["checksum/secrets"] = checksums["server"]
    computed = {
        "server": server,
        "serverFiles": {"prometheus.yml": body, RULES_FILE: yaml.safe_load(rules)},
        "alertmanager": {
            **({"podAnnotations": {"checksum/config": checksums["alertmanager"]}} if checksums.get("alertmanager") else {}),
            "extraSecretMounts": [
                {
                    "name": "config",
                    "mountPath": "/etc/alertmanager",
                    "subPath": "",
                    "secretName": alertmanager_secret,
                    "readOnly": True,
                }
            ],
        },
    }
    return deep_merge(load_values("prometheus-values.yaml"), computed)


def loki_values(storage: StorageSpec) -> dict:
    """Values for grafana/loki: single binary on a filesystem PVC, compactor-enforced retention."""
    seconds = parse_duration(storage.retention)
    if seconds % 86400:
        raise ValueError(f"Loki retention must be a whole number of days (24h index period), got {storage.retention!r}")
    computed = {
        "loki": {
            "limits_config": {"retention_period": storage.retention},
        },
        "singleBinary": {"persistence": {"size": storage.volume_size}},
    }
    if storage.storage_class:
        computed["singleBinary"]["persistence"]["storageClass"] = storage.storage_class
    return deep_merge(load_values("loki-values.yaml"), computed)


@dataclass(frozen=True)
class AlloySpec:
    push_url: str
    environment: str
    cluster: str
    # The persistent journal. Rocky GenericCloud keeps a volatile one in /run/log/journal (no
    # /var/log/journal), and Alloy exits when loki.source.journal cannot open its path: the k3s
    # role makes the journal persistent on every node (cloudinit/render.py ROLES["k3s"]).
    journal_path: str = "/var/log/journal"
    journal_max_age: str = "12h"
    # Node taints (`key[=value]:Effect`) the DaemonSet tolerates, so tainted nodes (the Pis) ship logs too.
    node_taints: tuple[str, ...] = ()


def tolerations(taints: Sequence[str]) -> list[dict]:
    """Kubernetes tolerations matching each taint `key[=value]:Effect` exactly, sorted and unique."""
    found = {}
    for taint in taints:
        key_value, effect = taint.rsplit(":", 1)
        key, _, value = key_value.partition("=")
        toleration = {"key": key, "operator": "Equal", "value": value, "effect": effect} if value else \
            {"key": key, "operator": "Exists", "effect": effect}
        found[(key, value, effect)] = toleration
    return [found[k] for k in sorted(found)]


def alloy_config(spec: AlloySpec) -> str:
    text = _env().get_template("config.alloy.j2").render(
        writer="local",
        push_url=spec.push_url,
        journal_path=spec.journal_path,
        journal_max_age=spec.journal_max_age,
        external_labels={"environment": spec.environment, "cluster": spec.cluster},
    )
    if "{{" in text or "}}" in text:  # the chart runs the content through `tpl`
        raise ValueError("Alloy config must not contain Go template delimiters")
    return text


def alloy_values(spec: AlloySpec) -> dict:
    computed: dict = {"alloy": {"configMap": {"create": True, "content": alloy_config(spec)}}}
    if spec.node_taints:
        # grafana/alloy chart templates/controllers/_pod.yaml: `controller.tolerations` -> pod tolerations.
        computed["controller"] = {"tolerations": tolerations(spec.node_taints)}
    return deep_merge(load_values("alloy-values.yaml"), computed)


# --------------------------------------------------------------------------------------------
# Grafana datasources
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasourceLogin:
    """How Grafana logs in to a published Prometheus or Loki (components/monitoring/publish.py):
    basic auth as `user`, TLS checked against a CA and the name `server_name` (SNI); the password
    and the CA come from environment variables of the Grafana pod (``${VAR}``), never the file."""

    user: str
    server_name: str
    password_var: str
    ca_var: str


def datasource(kind: str, environment: str, url: str, *, default: bool = False,
               login: DatasourceLogin | None = None) -> dict:
    """One Grafana provisioning datasource entry; uid and name derive from kind + environment."""
    label = {"prometheus": "Prometheus", "loki": "Loki"}[kind]
    entry: dict = {
        "name": f"{label} ({environment})",
        "uid": f"{kind}-{environment}",
        "type": kind,
        "access": "proxy",
        "url": url,
        "isDefault": default,
        "editable": False,
    }
    if kind == "prometheus":
        entry["jsonData"] = {"httpMethod": "POST", "timeInterval": "30s"}
    else:
        entry["jsonData"] = {"maxLines": 1000}
    if login is not None:
        # Grafana's datasource HTTP settings: basicAuth/basicAuthUser + secureJsonData.basicAuthPassword;
        # jsonData.tlsAuthWithCACert + secureJsonData.tlsCACert; jsonData.serverName (the SNI name).
        entry["basicAuth"] = True
        entry["basicAuthUser"] = login.user
        entry["jsonData"].update(tlsAuthWithCACert=True, serverName=login.server_name)
        entry["secureJsonData"] = {"basicAuthPassword": "${" + login.password_var + "}",
                                   "tlsCACert": "${" + login.ca_var + "}"}
    return entry


def datasources(
    environment: str,
    prometheus_url: str,
    loki_url: str,
    upstream: tuple[str, str, str] | None = None,
    logins: Mapping[str, DatasourceLogin] | None = None,
) -> list[dict]:
    """Local Prometheus (the one default) and Loki, plus the upstream's when federating.

    ``upstream`` is (environment, prometheus_url, loki_url). The upstream's logs stay in its own
    Loki: they are queried there, never shipped here again.
    """
    out = [
        datasource("prometheus", environment, prometheus_url, default=True),
        datasource("loki", environment, loki_url),
    ]
    if upstream:
        env, prom, loki = upstream
        logins = logins or {}
        out += [datasource("prometheus", env, prom, login=logins.get("prometheus")),
                datasource("loki", env, loki, login=logins.get("loki"))]
    return sorted(out, key=lambda d: d["uid"])
