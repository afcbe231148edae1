"""components/monitoring under Pulumi mocks: resources, secrets, manifests (kubernetes-validate)."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

from components.monitoring import Monitoring, MonitoringArgs, UpstreamArgs, charts, render
from components.monitoring.component import ALERTMANAGER_SECRET, MqttExporterArgs, pve_exporter_config
from synth.wire import MASK
from tests.conftest import RECORDED, registered

WEBHOOK = "https://hooks.example.invalid/T000/B000/secret-part"
MQTT_PASSWORD = "mqtt-canary-5f2b9d"
PVE_TOKEN = "monitor@pve!prometheus=0f3b1b7e-7d2c-4f58-a2cf-2a9c9d2b8f11"


def of_type(prefix: str, type_: str) -> dict[str, dict]:
    """Inputs (secrets shown) of the resources named ``prefix*`` of one type, by name."""
    return {r["name"]: RECORDED.revealed[r["urn"]] for r in registered(prefix, type_)}


def masked(prefix: str, type_: str) -> dict[str, dict]:
    """The same, as the engine's state and diffs show them (secrets masked)."""
    return {r["name"]: r["inputs"] for r in registered(prefix, type_)}


def make_args(**changes) -> MonitoringArgs:
    base = dict(
        environment="lothlorien",
        cluster="lothlorien",
        namespace="monitoring",
        address="10.40.0.20",
        k8s_nodes=(render.K8sNode("lorien-k3s-1", "10.40.0.21"),),
        prometheus=render.StorageSpec(retention="30d", volume_size="50Gi"),
        loki=render.StorageSpec(retention="336h", volume_size="20Gi"),
        alertmanager=render.AlertmanagerSpec(receiver="ops", receivers=(render.Receiver("ops", webhook=True),)),
        webhook_urls={"ops": pulumi.Output.secret(WEBHOOK)},
        static_jobs=(render.StaticJob("mosquitto", ("mosquitto-exporter.metrics.svc.cluster.local:9234",)),),
        pve_targets=("10.40.0.2",),
        pve_token=pulumi.Output.secret(PVE_TOKEN),
        upstream=UpstreamArgs("mirkwood", "http://10.30.0.20:9090", "http://10.30.0.20:3100"),
        mqtt_exporter=MqttExporterArgs("tcp://mosquitto.mtig.svc.cluster.local:1883", "monitoring",
                                       pulumi.Output.secret(MQTT_PASSWORD)),
    )
    base.update(changes)
    return MonitoringArgs(**base)


RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
SERVICE = "kubernetes:core/v1:Service"
SLICE = "kubernetes:discovery.k8s.io/v1:EndpointSlice"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def after_all(mon: Monitoring, check):
    """Run ``check`` once every child of ``mon`` is registered with the mocks."""
    return pulumi.Output.all(*[r.urn for r in mon.resources]).apply(check)


@pulumi.runtime.test
def test_releases_are_the_pinned_official_charts():
    mon = Monitoring("mon-charts", make_args())

    def check(_):
        releases = of_type("mon-charts", RELEASE)
        got = {n: (r["chart"], r["version"], r["repositoryOpts"]["repo"]) for n, r in releases.items()}
        assert got == {
            "mon-charts-prometheus": ("prometheus", charts.PROMETHEUS.version, charts.PROMETHEUS_COMMUNITY),
            "mon-charts-loki": ("loki", charts.LOKI.version, charts.GRAFANA),
            "mon-charts-alloy": ("alloy", charts.ALLOY.version, charts.GRAFANA),
        }
        prom = releases["mon-charts-prometheus"]["values"]
        assert prom["server"]["retention"] == "30d"
        assert prom["server"]["persistentVolume"]["size"] == "50Gi"
        jobs = {j["job_name"]: j for j in prom["serverFiles"]["prometheus.yml"]["scrape_configs"]}
        assert {"federate-mirkwood", "mosquitto", "pve", "node-exporter", "nodes"} <= set(jobs)
        assert jobs["mosquitto"]["static_configs"][0]["targets"] == [
            "mosquitto-exporter.monitoring.svc.cluster.local:9234"]
        assert jobs["node-exporter"]["static_configs"][0]["targets"] == ["10.40.0.21:9100"]
        loki = releases["mon-charts-loki"]["values"]
        assert loki["loki"]["limits_config"]["retention_period"] == "336h"
        assert "loki-push.monitoring.svc.cluster.local:3100/loki/api/v1/push" in \
            releases["mon-charts-alloy"]["values"]["alloy"]["configMap"]["content"]

    return after_all(mon, check)


@pulumi.runtime.test
def test_alertmanager_config_is_a_secret_and_never_in_a_configmap():
    mon = Monitoring("mon-secrets", make_args())

    def check(_):
        shown = of_type("mon-secrets", SECRET)
        assert WEBHOOK in shown["mon-secrets-alertmanager-config"]["stringData"]["alertmanager.yml"]
        assert shown["mon-secrets-alertmanager-config"]["metadata"]["name"] == ALERTMANAGER_SECRET
        # What the state and diffs hold: masked.
        for name, inputs in masked("mon-secrets", SECRET).items():
            assert inputs["stringData"] == MASK, name
        canaries = (WEBHOOK, PVE_TOKEN.split("=")[1], MQTT_PASSWORD)
        for record in registered("mon-secrets"):
            text = json.dumps(record["inputs"], default=str)
            assert not [c for c in canaries if c in text], record["name"]
            if record["type"] != SECRET:
                revealed = json.dumps(RECORDED.revealed[record["urn"]], default=str)
                assert not [c for c in canaries if c in revealed], record["name"]
        assert not registered("mon-secrets", "kubernetes:core/v1:ConfigMap")

    return after_all(mon, check)


@pulumi.runtime.test
def test_upstream_is_published_as_a_local_service_with_its_address():
    mon = Monitoring("mon-up", make_args())

    def check(args):
        config = args[-1]
        slices = of_type("mon-up", SLICE)
        prom = slices["mon-up-upstream-prometheus"]
        assert prom["metadata"]["labels"]["kubernetes.io/service-name"] == "prometheus-mirkwood"
        assert prom["endpoints"] == [{"addresses": ["10.30.0.20"]}]
        assert prom["ports"] == [{"name": "http", "port": 9090, "protocol": "TCP"}]
        assert slices["mon-up-upstream-loki"]["ports"][0]["port"] == 3100
        services = of_type("mon-up", SERVICE)
        assert "selector" not in services["mon-up-upstream-prometheus"]["spec"]
        fed = [j for j in yaml.safe_load(config)["scrape_configs"] if j["job_name"] == "federate-mirkwood"]
        assert fed[0]["static_configs"][0]["targets"] == ["prometheus-mirkwood.monitoring.svc.cluster.local:9090"]
        assert [d["uid"] for d in mon.datasources] == [
            "loki-lothlorien", "loki-mirkwood", "prometheus-lothlorien", "prometheus-mirkwood"]

    return pulumi.Output.all(*[r.urn for r in mon.resources], mon.prometheus_config).apply(check)


@pulumi.runtime.test
def test_no_upstream_no_federation():
    mon = Monitoring("mon-alone", make_args(upstream=None, pve_targets=(), pve_token=None, mqtt_exporter=None))

    def check(args):
        assert not registered("mon-alone", SLICE)
        assert "federate" not in args[-1]
        assert [d["uid"] for d in mon.datasources] == ["loki-lothlorien", "prometheus-lothlorien"]
        assert not registered("mon-alone", DEPLOYMENT)

    return pulumi.Output.all(*[r.urn for r in mon.resources], mon.prometheus_config).apply(check)


@pulumi.runtime.test
def test_endpoints_published_to_allowed_sources():
    mon = Monitoring("mon-endpoints", make_args(allowed_sources=("10.50.0.0/24",)))
    return pulumi.Output.all(mon.prometheus_url, mon.alertmanager_url, mon.loki_url, mon.loki_push_url).apply(
        lambda urls: assert_equal(urls, ["http://10.40.0.20:9090",
                                         "http://prometheus-alertmanager.monitoring.svc.cluster.local:9093",
                                         "http://10.40.0.20:3100", "http://10.40.0.20:3100/loki/api/v1/push"])
    )


@pulumi.runtime.test
def test_endpoints_stay_inside_the_cluster_without_allowed_sources():
    mon = Monitoring("mon-inside", make_args())
    svc = "monitoring.svc.cluster.local"
    return pulumi.Output.all(mon.prometheus_url, mon.alertmanager_url, mon.loki_url, mon.loki_push_url).apply(
        lambda urls: assert_equal(urls, [f"http://prometheus-server.{svc}:9090",
                                         f"http://prometheus-alertmanager.{svc}:9093",
                                         f"http://loki-push.{svc}:3100", f"http://loki-push.{svc}:3100/loki/api/v1/push"])
    )


@pulumi.runtime.test
def test_only_prometheus_and_loki_leave_the_cluster_and_only_to_allowed_sources():
    """Alertmanager (anyone could silence every alert) never; Prometheus and Loki through k3s
    ServiceLB restricted to the allowed sources, without the NodePort kube-proxy opens to all."""
    restricted = Monitoring("mon-lb", make_args(allowed_sources=("10.50.0.0/24", "192.168.1.7/32")))
    inside = Monitoring("mon-nolb", make_args())

    def check(_):
        published = {n: r for n, r in masked("mon-lb", SERVICE).items() if r["spec"].get("type") == "LoadBalancer"}
        assert sorted(published) == ["mon-lb-loki-push", "mon-lb-prometheus-external"]
        for service in published.values():
            assert service["spec"]["loadBalancerSourceRanges"] == ["10.50.0.0/24", "192.168.1.7/32"]
            assert service["spec"]["allocateLoadBalancerNodePorts"] is False
        assert published["mon-lb-prometheus-external"]["spec"]["selector"] == {
            "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "prometheus",
            "app.kubernetes.io/component": "server"}
        assert [n for n, r in masked("mon-nolb", SERVICE).items() if r["spec"].get("type", "ClusterIP") != "ClusterIP"
                and "upstream" not in n] == []
        for prefix in ("mon-lb", "mon-nolb"):
            values = masked(prefix, RELEASE)[f"{prefix}-prometheus"]["values"]
            assert values["server"]["service"]["type"] == values["alertmanager"]["service"]["type"] == "ClusterIP"
            assert "web.enable-lifecycle" not in json.dumps(values)

    return pulumi.Output.all(*[r.urn for m in (restricted, inside) for r in m.resources]).apply(check)


def test_the_whole_internet_is_not_an_allowed_source():
    from components.monitoring.component import service_spec

    with pytest.raises(ValueError, match="0.0.0.0/0"):
        service_spec({"app": "x"}, 9090, ["0.0.0.0/0"])


@pulumi.runtime.test
def test_alloy_may_read_pods_and_their_logs_and_nothing_else():
    mon = Monitoring("mon-alloy", make_args())

    def check(_):
        release = masked("mon-alloy", RELEASE)["mon-alloy-alloy"]
        assert release["values"]["rbac"] == {"create": False}  # the chart's role reads every Secret
        (role,) = masked("mon-alloy", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").values()
        assert role["rules"] == [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        ]
        (binding,) = masked("mon-alloy", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").values()
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "alloy", "namespace": "monitoring"}]
        alloy = next(r for r in registered("mon-alloy", RELEASE) if r["name"] == "mon-alloy-alloy")
        assert {r["urn"] for r in registered("mon-alloy") if "rbac" in r["type"]} <= set(alloy["dependencies"])

    return pulumi.Output.all(*[r.urn for r in mon.resources]).apply(check)


def assert_equal(got, want):
    assert got == want


def test_pve_exporter_config_from_token():
    doc = yaml.safe_load(pve_exporter_config(PVE_TOKEN, False))
    assert doc == {"default": {"user": "monitor@pve", "token_name": "prometheus",
                               "token_value": PVE_TOKEN.split("=")[1], "verify_ssl": False}}
    with pytest.raises(ValueError, match="user@realm!tokenid=secret"):
        pve_exporter_config("not-a-token", False)


def test_ip_endpoint_refuses_hostnames():
    from components.monitoring import ip_endpoint

    assert ip_endpoint("http://10.30.0.20:9090") == ("10.30.0.20", 9090)
    with pytest.raises(ValueError, match="IPv4"):
        ip_endpoint("http://prometheus.mirkwood.lan:9090")


KINDS = {
    "kubernetes:core/v1:Namespace": ("v1", "Namespace"),
    SECRET: ("v1", "Secret"),
    SERVICE: ("v1", "Service"),
    DEPLOYMENT: ("apps/v1", "Deployment"),
    SLICE: ("discovery.k8s.io/v1", "EndpointSlice"),
}


@pytest.mark.system
@pulumi.runtime.test
def test_manifests_pass_kubernetes_validate():
    import kubernetes_validate

    mon = Monitoring("mon-validate", make_args())

    def check(_):
        seen = set()
        for record in registered("mon-validate"):
            if record["type"] not in KINDS:
                continue
            api, kind = KINDS[record["type"]]
            inputs = RECORDED.revealed[record["urn"]]
            manifest = {**inputs, "apiVersion": api, "kind": kind}
            manifest = yaml.safe_load(yaml.safe_dump(manifest))  # plain data, as a file would hold
            kubernetes_validate.validate(manifest, "1.31", strict=True)
            seen.add(kind)
        assert seen == {"Namespace", "Secret", "Service", "Deployment", "EndpointSlice"}

    return after_all(mon, check)


def test_kubernetes_validate_catches_a_misspelt_field():
    """The validation above is real: a typo in a manifest is refused."""
    import kubernetes_validate

    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
           "spec": {"ports": [{"port": 80}], "selectr": {"a": "b"}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.31", strict=True)


@pulumi.runtime.test
def test_every_input_is_a_real_sdk_property():
    """Provider conformance (synth/conformance.py) over everything the component registers."""
    from synth import conformance

    mon = Monitoring("mon-conform", make_args(incus_targets=("10.40.0.30:8443",),
                                              incus_cert="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                                              incus_key=pulumi.Output.secret("-----BEGIN EC PRIVATE KEY-----\n")))

    def check(_):
        records = [r for r in registered("mon-conform") if r["custom"]]
        assert {r["type"] for r in records} >= {RELEASE, SECRET, SERVICE, SLICE, DEPLOYMENT}
        assert conformance.check(records) == []

    return after_all(mon, check)
