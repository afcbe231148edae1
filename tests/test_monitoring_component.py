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
UPSTREAM_PROM_PASSWORD = "upstream-prom-canary-81d0"
UPSTREAM_LOKI_PASSWORD = "upstream-loki-canary-77ae"
UPSTREAM_CA = "-----BEGIN CERTIFICATE-----\nMIIBupstream\n-----END CERTIFICATE-----\n"


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
        upstream=UpstreamArgs("mirkwood", "https://10.30.0.20", "https://10.30.0.20",
                              prometheus_password=pulumi.Output.secret(UPSTREAM_PROM_PASSWORD),
                              loki_password=pulumi.Output.secret(UPSTREAM_LOKI_PASSWORD), ca_pem=UPSTREAM_CA),
        ingress_class="traefik",
        cluster_issuer="homelab-ca",
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
        canaries = (WEBHOOK, PVE_TOKEN.split("=")[1], MQTT_PASSWORD, UPSTREAM_PROM_PASSWORD)
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
        # The upstream's Traefik (HTTPS): the paths route to its Prometheus or Loki.
        assert prom["ports"] == [{"name": "https", "port": 443, "protocol": "TCP"}]
        assert slices["mon-up-upstream-loki"]["ports"][0]["port"] == 443
        services = of_type("mon-up", SERVICE)
        assert "selector" not in services["mon-up-upstream-prometheus"]["spec"]
        fed = [j for j in yaml.safe_load(config)["scrape_configs"] if j["job_name"] == "federate-mirkwood"]
        assert fed[0]["static_configs"][0]["targets"] == ["prometheus-mirkwood.monitoring.svc.cluster.local:443"]
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
        lambda urls: assert_equal(urls, ["https://10.40.0.20",
                                         "http://prometheus-alertmanager.monitoring.svc.cluster.local:9093",
                                         "https://10.40.0.20", "https://10.40.0.20/loki/api/v1/push"])
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


INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
MIDDLEWARE = "kubernetes:traefik.io/v1alpha1:Middleware"
PASSWORD = "random:index/randomPassword:RandomPassword"


@pulumi.runtime.test
def test_nothing_of_monitoring_is_a_loadbalancer_or_a_nodeport():
    """Alertmanager (anyone could silence every alert) never leaves the cluster; Prometheus and Loki
    only through Traefik behind a login (below): every Service of the component is ClusterIP."""
    published = Monitoring("mon-lb", make_args(allowed_sources=("10.50.0.0/24", "192.168.1.7/32")))
    inside = Monitoring("mon-nolb", make_args())

    def check(_):
        for prefix in ("mon-lb", "mon-nolb"):
            services = {n: r for n, r in masked(prefix, SERVICE).items() if "upstream" not in n}
            assert services and {r["spec"].get("type", "ClusterIP") for r in services.values()} == {"ClusterIP"}
            values = masked(prefix, RELEASE)[f"{prefix}-prometheus"]["values"]
            assert values["server"]["service"]["type"] == values["alertmanager"]["service"]["type"] == "ClusterIP"
            assert "web.enable-lifecycle" not in json.dumps(values)
        assert not registered("mon-nolb", INGRESS) and not registered("mon-nolb", MIDDLEWARE)
        assert not registered("mon-nolb", PASSWORD) and published.credentials and not inside.credentials

    return pulumi.Output.all(*[r.urn for m in (published, inside) for r in m.resources]).apply(check)


@pulumi.runtime.test
def test_prometheus_and_loki_are_published_through_traefik_with_tls_and_a_login():
    mon = Monitoring("mon-pub", make_args(allowed_sources=("10.50.0.0/24",)))

    def check(_):
        ingresses = of_type("mon-pub", INGRESS)
        assert sorted(ingresses) == ["mon-pub-loki-external", "mon-pub-prometheus-external"]
        prom, loki = ingresses["mon-pub-prometheus-external"], ingresses["mon-pub-loki-external"]
        assert prom["metadata"]["annotations"] == {
            "cert-manager.io/cluster-issuer": "homelab-ca",
            "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
            "traefik.ingress.kubernetes.io/router.tls": "true",
            "traefik.ingress.kubernetes.io/router.middlewares": "monitoring-prometheus-login@kubernetescrd",
        }
        assert prom["spec"]["ingressClassName"] == "traefik"
        assert prom["spec"]["tls"] == [{"hosts": ["prometheus-lothlorien.monitoring.internal"],
                                        "secretName": "prometheus-external-tls"}]
        # Only the query API and /federate (no UI, no /-/ endpoints), to the chart's ClusterIP Service.
        assert [(p["path"], p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
                for p in prom["spec"]["rules"][0]["http"]["paths"]] == [
            ("/api/v1", "Prefix", "prometheus-server", 9090), ("/federate", "Exact", "prometheus-server", 9090)]
        assert [(p["path"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
                for p in loki["spec"]["rules"][0]["http"]["paths"]] == [("/loki/api", "loki-push", 3100)]
        assert loki["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"] == \
            "monitoring-loki-login@kubernetescrd"
        middlewares = of_type("mon-pub", MIDDLEWARE)
        assert middlewares["mon-pub-prometheus-login"]["apiVersion"] == "traefik.io/v1alpha1"
        assert middlewares["mon-pub-prometheus-login"]["spec"] == {
            "basicAuth": {"secret": "prometheus-basic-auth", "realm": "prometheus", "removeHeader": True}}
        assert middlewares["mon-pub-loki-login"]["spec"]["basicAuth"]["secret"] == "loki-basic-auth"
        # Each Ingress waits for its Middleware, each Middleware for its Secret.
        deps = {r["name"]: set(r["dependencies"]) for r in registered("mon-pub")}
        urns = {r["name"]: r["urn"] for r in registered("mon-pub")}
        for kind in ("prometheus", "loki"):
            assert urns[f"mon-pub-{kind}-login"] in deps[f"mon-pub-{kind}-external"]
            assert urns[f"mon-pub-{kind}-basic-auth"] in deps[f"mon-pub-{kind}-login"]

    return after_all(mon, check)


@pulumi.runtime.test
def test_basic_auth_secret_holds_only_a_bcrypt_hash_and_the_password_stays_secret():
    mon = Monitoring("mon-hash", make_args(allowed_sources=("10.50.0.0/24",)))

    def check(args):
        passwords = dict(zip(("prometheus", "loki"), args[-2:]))
        shown = of_type("mon-hash", SECRET)
        for kind, password in passwords.items():
            users = shown[f"mon-hash-{kind}-basic-auth"]["stringData"]["users"]
            user, digest = users.rstrip("\n").split(":", 1)
            assert user == "homelab" and "\n" not in users.rstrip("\n")
            # Traefik (abbot/go-http-auth) takes $2a$/$2b$/$2y$ as bcrypt; bcrypt is 60 characters.
            assert digest.startswith(("$2a$", "$2b$", "$2y$")) and len(digest) == 60
            assert password and password not in users
            assert masked("mon-hash", SECRET)[f"mon-hash-{kind}-basic-auth"]["stringData"] == MASK
        # No password and no hash in any input the engine shows in clear.
        for record in registered("mon-hash"):
            text = json.dumps(record["inputs"], default=str)
            assert not [p for p in passwords.values() if p in text], record["name"]
            assert "$2a$" not in text, record["name"]
        lengths = {r["name"]: r["inputs"]["length"] for r in registered("mon-hash", PASSWORD)}
        assert lengths == {"mon-hash-prometheus-password": 32, "mon-hash-loki-password": 32}

    return pulumi.Output.all(*[r.urn for r in mon.resources], mon.credentials["prometheus"],
                             mon.credentials["loki"]).apply(check)


@pulumi.runtime.test
def test_credentials_are_secret_outputs():
    mon = Monitoring("mon-secret-out", make_args(allowed_sources=("10.50.0.0/24",)))
    assert set(mon.credentials) == {"prometheus", "loki"}
    return pulumi.Output.all(*[o.is_secret() for o in mon.credentials.values()]).apply(
        lambda flags: assert_equal(flags, [True, True]))


def test_users_file_refuses_what_traefik_would_not_read_as_bcrypt():
    from components.monitoring import publish

    good = "$2a$10$" + "a" * 53
    assert publish.users_file("homelab", good) == f"homelab:{good}\n"
    for bad in ("plain-password", "$1$abc$" + "a" * 53, "$2a$10$short"):
        with pytest.raises(ValueError, match="bcrypt"):
            publish.users_file("homelab", bad)


def test_publishing_needs_an_ingress_class_and_an_issuer():
    with pytest.raises(ValueError, match="ingress_class and cluster_issuer"):
        Monitoring("mon-noissuer", make_args(allowed_sources=("10.50.0.0/24",), cluster_issuer=None))


def test_the_whole_internet_is_not_an_allowed_source():
    with pytest.raises(ValueError, match="0.0.0.0/0"):
        Monitoring("mon-internet", make_args(allowed_sources=("0.0.0.0/0",)))


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
    "kubernetes:networking.k8s.io/v1:Ingress": ("networking.k8s.io/v1", "Ingress"),
}


@pytest.mark.system
@pulumi.runtime.test
def test_manifests_pass_kubernetes_validate():
    import kubernetes_validate

    mon = Monitoring("mon-validate", make_args(allowed_sources=("10.50.0.0/24",)))

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
        assert seen == {"Namespace", "Secret", "Service", "Deployment", "EndpointSlice", "Ingress"}

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
                                              incus_key=pulumi.Output.secret("-----BEGIN EC PRIVATE KEY-----\n"),
                                              allowed_sources=("10.50.0.0/24",)))

    def check(_):
        records = [r for r in registered("mon-conform") if r["custom"]]
        assert {r["type"] for r in records} >= {RELEASE, SECRET, SERVICE, SLICE, DEPLOYMENT, INGRESS, MIDDLEWARE}
        assert conformance.check(records) == []

    return after_all(mon, check)


# The Middleware's fields, from the CRD of the Traefik chart k3s v1.31 packages (k3s-io/k3s#10939:
# chart 27.0.2, Traefik v2.11; traefik/traefik-helm-chart v27.0.2 traefik/crds/traefik.io_middlewares.yaml,
# group traefik.io, version v1alpha1, spec.basicAuth.properties).
CRD_BASIC_AUTH_FIELDS = {"headerField", "realm", "removeHeader", "secret"}


def test_middleware_fields_are_the_crds_and_a_misspelt_one_is_caught():
    from components.monitoring import publish
    from synth import conformance

    assert publish.TRAEFIK_API == "traefik.io/v1alpha1"
    spec = publish.middleware_spec("prometheus")
    assert set(spec) == {"basicAuth"} and set(spec["basicAuth"]) <= CRD_BASIC_AUTH_FIELDS
    assert set(spec["basicAuth"]) >= {"secret"}

    def record(basic_auth: dict) -> dict:
        return {"custom": True, "type": publish.MIDDLEWARE_TOKEN, "name": "m", "urn": "urn:m",
                "inputs": {"apiVersion": publish.TRAEFIK_API, "kind": "Middleware",
                           "metadata": {"name": "m"}, "spec": {"basicAuth": basic_auth}}}

    assert conformance.check([record(spec["basicAuth"])]) == []
    misspelt = conformance.check([record({"secrets": "prometheus-basic-auth"})])
    assert misspelt and any("secrets" in line for line in misspelt)
