"""components/monitoring under Pulumi mocks: resources, secrets, manifests (kubernetes-validate)."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

from components.monitoring import Monitoring, MonitoringArgs, UpstreamArgs, charts, render
from components.monitoring.component import ALERTMANAGER_SECRET, pve_exporter_config

SIG_KEY = "4dabf18193072939515e22adb298388d"  # pulumi.runtime.rpc: special signature key
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # ... and the value that marks a secret


def is_secret(value) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def unsecret(value):
    """The plain value inside secret envelopes (what the API server finally receives)."""
    if is_secret(value):
        return unsecret(value["value"])
    if isinstance(value, dict):
        return {k: unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsecret(v) for v in value]
    return value


WEBHOOK = "https://hooks.example.invalid/T000/B000/secret-part"
PVE_TOKEN = "monitor@pve!prometheus=0f3b1b7e-7d2c-4f58-a2cf-2a9c9d2b8f11"


class Recorder(pulumi.runtime.Mocks):
    """Mocks that keep every registration (type, name, inputs) for the assertions."""

    def __init__(self):
        self.resources: list[tuple[str, str, dict]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append((args.typ, args.name, dict(args.inputs)))
        state = dict(args.inputs)
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state.update({"status": {"status": "deployed", "namespace": args.inputs.get("namespace"),
                                     "name": args.inputs.get("name"), "version": args.inputs.get("version")}})
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

    def of_type(self, typ: str) -> dict[str, dict]:
        return {name: inputs for t, name, inputs in self.resources if t == typ}


@pytest.fixture
def recorder():
    mocks = Recorder()
    pulumi.runtime.set_mocks(mocks, project="homelab", stack="lothlorien", preview=False)
    yield mocks


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
    )
    base.update(changes)
    return MonitoringArgs(**base)


@pulumi.runtime.test
def test_releases_are_the_pinned_official_charts(recorder):
    mon = Monitoring("mon", make_args())

    def check(_):
        releases = recorder.of_type("kubernetes:helm.sh/v3:Release")
        got = {n: (r["chart"], r["version"], r["repositoryOpts"]["repo"]) for n, r in releases.items()}
        assert got == {
            "mon-prometheus": ("prometheus", charts.PROMETHEUS.version, charts.PROMETHEUS_COMMUNITY),
            "mon-loki": ("loki", charts.LOKI.version, charts.GRAFANA),
            "mon-alloy": ("alloy", charts.ALLOY.version, charts.GRAFANA),
        }
        prom = releases["mon-prometheus"]["values"]
        assert prom["server"]["retention"] == "30d"
        assert prom["server"]["persistentVolume"]["size"] == "50Gi"
        jobs = {j["job_name"] for j in prom["serverFiles"]["prometheus.yml"]["scrape_configs"]}
        assert {"federate-mirkwood", "mosquitto", "pve", "node-exporter", "nodes"} <= jobs
        loki = releases["mon-loki"]["values"]
        assert loki["loki"]["limits_config"]["retention_period"] == "336h"

    return after_all(mon, check)


@pulumi.runtime.test
def test_alertmanager_config_is_a_secret_and_never_in_a_configmap(recorder):
    mon = Monitoring("mon", make_args())

    def check(_):
        secrets = recorder.of_type("kubernetes:core/v1:Secret")
        am = secrets["mon-alertmanager-config"]
        assert am["metadata"]["name"] == ALERTMANAGER_SECRET
        assert is_secret(am["stringData"])  # state and diffs show [secret]
        assert WEBHOOK in unsecret(am["stringData"])["alertmanager.yml"]
        assert is_secret(secrets["mon-pve-exporter-config"]["stringData"])
        for typ, _, inputs in recorder.resources:
            if typ != "kubernetes:core/v1:Secret":
                assert WEBHOOK not in json.dumps(inputs, default=str), typ
                assert PVE_TOKEN.split("=")[1] not in json.dumps(inputs, default=str), typ
        assert not recorder.of_type("kubernetes:core/v1:ConfigMap")

    return after_all(mon, check)


@pulumi.runtime.test
def test_upstream_is_published_as_a_local_service_with_its_address(recorder):
    mon = Monitoring("mon", make_args())

    def check(_):
        slices = recorder.of_type("kubernetes:discovery.k8s.io/v1:EndpointSlice")
        prom = slices["mon-upstream-prometheus"]
        assert prom["metadata"]["labels"]["kubernetes.io/service-name"] == "prometheus-mirkwood"
        assert prom["endpoints"] == [{"addresses": ["10.30.0.20"]}]
        assert prom["ports"] == [{"name": "http", "port": 9090, "protocol": "TCP"}]
        assert slices["mon-upstream-loki"]["ports"][0]["port"] == 3100
        services = recorder.of_type("kubernetes:core/v1:Service")
        assert "selector" not in services["mon-upstream-prometheus"]["spec"]
        fed = [j for j in yaml.safe_load(mon.prometheus_config)["scrape_configs"] if j["job_name"] == "federate-mirkwood"]
        assert fed[0]["static_configs"][0]["targets"] == ["prometheus-mirkwood.monitoring.svc.cluster.local:9090"]

    return after_all(mon, check)


@pulumi.runtime.test
def test_no_upstream_no_federation(recorder):
    mon = Monitoring("mon", make_args(upstream=None, pve_targets=(), pve_token=None))

    def check(_):
        assert not recorder.of_type("kubernetes:discovery.k8s.io/v1:EndpointSlice")
        assert "federate" not in mon.prometheus_config
        assert [d["uid"] for d in mon.datasources] == ["loki-lothlorien", "prometheus-lothlorien"]
        assert "mon-pve-exporter" not in recorder.of_type("kubernetes:apps/v1:Deployment")

    return after_all(mon, check)


@pulumi.runtime.test
def test_endpoints(recorder):
    mon = Monitoring("mon", make_args())
    return pulumi.Output.all(mon.prometheus_url, mon.alertmanager_url, mon.loki_url, mon.loki_push_url).apply(
        lambda urls: (
            assert_equal(urls, ["http://10.40.0.20:9090", "http://10.40.0.20:9093", "http://10.40.0.20:3100",
                                "http://10.40.0.20:3100/loki/api/v1/push"])
        )
    )


def after_all(mon: Monitoring, check):
    """Run ``check`` once every child of ``mon`` is registered with the mocks."""
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


@pytest.mark.system
@pulumi.runtime.test
def test_manifests_pass_kubernetes_validate(recorder):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    mon = Monitoring("mon", make_args())
    kinds = {
        "kubernetes:core/v1:Namespace": ("v1", "Namespace"),
        "kubernetes:core/v1:Secret": ("v1", "Secret"),
        "kubernetes:core/v1:Service": ("v1", "Service"),
        "kubernetes:apps/v1:Deployment": ("apps/v1", "Deployment"),
        "kubernetes:discovery.k8s.io/v1:EndpointSlice": ("discovery.k8s.io/v1", "EndpointSlice"),
    }

    def check(_):
        seen = set()
        for typ, name, inputs in recorder.resources:
            if typ not in kinds:
                continue
            api, kind = kinds[typ]
            manifest = {"apiVersion": api, "kind": kind, **{k: v for k, v in inputs.items() if k not in ("apiVersion", "kind")}}
            manifest = yaml.safe_load(yaml.safe_dump(unsecret(manifest)))  # plain data, as a file would hold
            kubernetes_validate.validate(manifest, "1.31", strict=True)
            seen.add(kind)
        assert seen == {"Namespace", "Secret", "Service", "Deployment", "EndpointSlice"}

    return after_all(mon, check)
