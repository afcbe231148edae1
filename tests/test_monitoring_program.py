"""Monitoring in the whole program: lothlorien federates mirkwood through a (mocked) StackReference.

The StackReference is answered by synth/mocks.py from synth/fixtures/stacks/mirkwood.json, which
a test here keeps in step with what the mirkwood synth really exports.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.monitoring.render import INCUS_CERT_DIR, UPSTREAM_DIR
from synth.wire import MASK
from components.mtig.render import check_datasources
from components.mtig.stack import influx_datasource
from stacks import monitoring as layer
from stacks.config import loader
from stacks.config.model import needed_secrets
from stacks.secrets import Secrets
from stacks.hosts import Cluster, Host, HostRegistry
from synth.engine import synth_config
from synth.mocks import STACK_FIXTURES
from tests.conftest import ENVIRONMENTS, RECORDED, ROOT, registered
from tests.tools import require_tool

WEBHOOK = "https://hooks.example.invalid/lothlorien-ops-canary"
RELEASE = "kubernetes:helm.sh/v3:Release"


def load(env: str):
    entries, secret_keys, _ = synth_config(env)
    return loader.validate(entries, stack=env, secret_keys=secret_keys)


@pytest.mark.system
@pulumi.runtime.test
def test_lothlorien_layer_federates_mirkwood_and_adds_its_datasources(tmp_path):
    promtool = require_tool("promtool")
    cfg = load("lothlorien")
    assert cfg.upstream == "organization/homelab/mirkwood"
    pulumi.runtime.set_config("homelab:alertmanagerWebhook-ops", WEBHOOK)
    for spec in needed_secrets(cfg):  # the exporters' credentials, in their form
        if spec.key != "alertmanagerWebhook-ops":
            pulumi.runtime.set_config(f"homelab:{spec.key}", spec.dressed(f"test-{spec.key}"))
    hosts = HostRegistry()
    for i in (1, 2):
        hosts.add(Host(name=f"lothlorien-k3s-s{i}", fqdn=f"lothlorien-k3s-s{i}.lothlorien.lan", platform="proxmox-vm",
                       distribution="debian12", address=f"10.50.0.2{i}", ssh_user="lavender",
                       groups=("k3s", "k3s-server")))
    kubeconfig = pulumi.Output.secret("apiVersion: v1\nkind: Config\n")
    cluster = Cluster(
        name="lothlorien",
        api_endpoint=pulumi.Output.from_input("https://10.50.0.21:6443"),
        kubeconfig=kubeconfig,
        provider=k8s.Provider("lorien-program-k8s", kubeconfig=kubeconfig),
        version="v1.31.4+k3s1",
    )
    mon = layer.deploy(cfg, Secrets(), cluster, None, hosts)
    assert mon is not None

    def check(args):
        config = yaml.safe_load(args[-1])
        prefix = "lothlorien-monitoring"
        jobs = {j["job_name"]: j for j in config["scrape_configs"]}
        fed = jobs["federate-mirkwood"]
        assert fed["honor_labels"] is True and fed["metrics_path"] == "/federate"
        assert fed["static_configs"][0]["targets"] == ["prometheus-mirkwood.monitoring.svc.cluster.local:443"]
        # mirkwood's login (its secret output monitoring_credentials): a file from a Secret, over TLS
        # checked against mirkwood's CA (its output ca.root_pem); never the password in this config.
        assert fed["basic_auth"] == {"username": "homelab", "password_file": f"{UPSTREAM_DIR}/password"}
        assert fed["tls_config"] == {"ca_file": f"{UPSTREAM_DIR}/ca.crt",
                                     "server_name": "prometheus-mirkwood.monitoring.internal"}
        mirkwood_out = json.loads((STACK_FIXTURES / "mirkwood.json").read_text())
        login = {r["name"]: r for r in registered(prefix, "kubernetes:core/v1:Secret")}[f"{prefix}-upstream-login"]
        shown = RECORDED.revealed[login["urn"]]["stringData"]
        assert shown["password"] == mirkwood_out["monitoring_credentials"]["prometheus"]["password"]
        assert shown["ca.crt"] == mirkwood_out["ca"]["root_pem"]
        assert login["inputs"]["stringData"] == MASK  # what state and diffs show
        prom_release = [r for r in registered(prefix, RELEASE) if r["name"] == f"{prefix}-prometheus"][0]
        assert {"name": "upstream-login", "mountPath": UPSTREAM_DIR, "secretName": "upstream-mirkwood-login",
                "readOnly": True} in RECORDED.revealed[prom_release["urn"]]["values"]["server"]["extraSecretMounts"]
        assert login["urn"] in prom_release["dependencies"]
        assert jobs["node-exporter"]["static_configs"][0]["targets"] == ["10.50.0.21:9100"]
        # The address behind that name comes from mirkwood's outputs (the StackReference).
        mirkwood = json.loads((STACK_FIXTURES / "mirkwood.json").read_text())
        upstream_ip = mirkwood["endpoints"]["prometheus"].split("//")[1].split(":")[0]
        slices = {r["name"]: RECORDED.revealed[r["urn"]]
                  for r in registered(prefix, "kubernetes:discovery.k8s.io/v1:EndpointSlice")}
        assert slices[f"{prefix}-upstream-prometheus"]["endpoints"] == [{"addresses": [upstream_ip]}]
        # Production: the releases holding the volumes are protected.
        releases = registered(prefix, RELEASE)
        assert {r["name"]: r["options"]["protect"] for r in releases} == {
            f"{prefix}-prometheus": True, f"{prefix}-loki": True, f"{prefix}-alloy": False}
        refs = [r for r in RECORDED.resources if r["type"] == "pulumi:pulumi:StackReference"]
        assert "organization/homelab/mirkwood" in {r["name"] for r in refs}
        # Grafana: local and upstream Prometheus and Loki; with the metrics stack's InfluxDB
        # (lothlorien's default, `monitoring.grafana_default: false`) exactly one default.
        sources = layer.datasource_entries(cfg)
        assert {d["uid"]: d["isDefault"] for d in sources} == {
            "prometheus-lothlorien": False, "loki-lothlorien": False,
            "prometheus-mirkwood": False, "loki-mirkwood": False}
        m = cfg.mtig
        grafana = [influx_datasource(m.namespace, m.influxdb.org, m.influxdb.bucket, m.grafana.influxdb_default),
                   *layer.grafana_datasources(cfg)]
        assert check_datasources(grafana) == []
        assert [d.name for d in grafana if d.is_default] == ["InfluxDB"]
        assert {d["url"] for d in sources if d["uid"].endswith("mirkwood")} == {
            "https://prometheus-mirkwood.monitoring.svc.cluster.local:443",
            "https://loki-mirkwood.monitoring.svc.cluster.local:443"}
        # mirkwood's datasources log in (basic auth; the password and CA from the pod's environment)
        # and check mirkwood's certificate; the local ones need nothing.
        for d in sources:
            if d["uid"].endswith("mirkwood"):
                kind = d["type"]
                assert d["basicAuth"] is True and d["basicAuthUser"] == "homelab"
                assert d["jsonData"]["tlsAuthWithCACert"] is True
                assert d["jsonData"]["serverName"] == f"{kind}-mirkwood.monitoring.internal"
                assert d["secureJsonData"] == {"basicAuthPassword": f"${{UPSTREAM_MIRKWOOD_{kind.upper()}_PASSWORD}}",
                                               "tlsCACert": "${UPSTREAM_MIRKWOOD_CA}"}
            else:
                assert "basicAuth" not in d and "secureJsonData" not in d
        assert mon.datasources == sources
        # The Prometheus config and rules exactly as the release carries them pass promtool
        # (in-cluster file paths pointed at placeholders here).
        values = RECORDED.revealed[[r for r in releases if r["name"] == f"{prefix}-prometheus"][0]["urn"]]["values"]
        document = {"global": values["server"]["global"], **values["serverFiles"]["prometheus.yml"],
                    "alerting": {"alertmanagers": values["server"]["alertmanagers"]}}
        text = yaml.safe_dump(document, sort_keys=True)
        (tmp_path / "sa").mkdir()
        for name in ("token", "ca.crt"):
            (tmp_path / "sa" / name).write_text("placeholder\n")
        text = text.replace("/var/run/secrets/kubernetes.io/serviceaccount", str(tmp_path / "sa"))
        (tmp_path / "incus").mkdir()
        for name in ("tls.crt", "tls.key"):
            (tmp_path / "incus" / name).write_text("placeholder\n")
        text = text.replace(INCUS_CERT_DIR, str(tmp_path / "incus"))
        (tmp_path / "upstream").mkdir()
        for name in ("password", "ca.crt"):
            (tmp_path / "upstream" / name).write_text("placeholder\n")
        text = text.replace(UPSTREAM_DIR, str(tmp_path / "upstream"))
        text = text.replace("/etc/config/", f"{tmp_path}/")
        (tmp_path / "prometheus.yml").write_text(text)
        (tmp_path / "alerting_rules.yml").write_text(yaml.safe_dump(values["serverFiles"]["alerting_rules.yml"]))
        done = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "rules found" in done.stdout

    return pulumi.Output.all(*[r.urn for r in mon.resources], mon.prometheus_config).apply(check)


def test_an_upstream_with_another_contract_major_is_refused():
    with pytest.raises(ValueError, match="contract_version 1"):
        layer._check_contract("1", "organization/homelab/mirkwood")
    assert layer._check_contract("2", "organization/homelab/mirkwood") == "2"


def test_mirkwood_is_not_federating():
    cfg = load("mirkwood")
    assert cfg.upstream is None
    assert [d["uid"] for d in layer.datasource_entries(cfg)] == ["loki-mirkwood", "prometheus-mirkwood"]


def test_synth_lothlorien_reads_mirkwood_through_a_stack_reference(synth_result):
    run = synth_result("lothlorien")
    refs = [r for r in run.resources if r["type"] == "pulumi:pulumi:StackReference"]
    assert [r["name"] for r in refs] == ["organization/homelab/mirkwood"]
    assert run.outputs["environment"]["upstream"] == "organization/homelab/mirkwood"
    releases = {r["name"]: r for r in run.of_type(RELEASE) if r["name"].startswith("lothlorien-monitoring")}
    if run.outputs["k3s"] is None:
        # No cluster in this environment yet: monitoring deploys nothing, and says so by absence.
        assert releases == {} and run.outputs["endpoints"]["prometheus"] is None
    else:
        values = releases["lothlorien-monitoring-prometheus"]["inputs"]["values"]
        jobs = {j["job_name"] for j in values["serverFiles"]["prometheus.yml"]["scrape_configs"]}
        assert "federate-mirkwood" in jobs
        assert run.outputs["endpoints"]["prometheus"].endswith(":9090")


def test_synth_mirkwood_reads_no_stack(synth_result):
    run = synth_result("mirkwood")
    assert not [r for r in run.resources if r["type"] == "pulumi:pulumi:StackReference"]


def test_mirkwood_fixture_has_the_shape_of_the_real_mirkwood_outputs(synth_result):
    """The StackReference mock answers with the fixture: it must look like what mirkwood exports."""
    real = synth_result("mirkwood").outputs
    fixture = json.loads((STACK_FIXTURES / "mirkwood.json").read_text())
    assert sorted(fixture) == sorted(real)
    assert fixture["contract_version"] == real["contract_version"]
    assert sorted(fixture["endpoints"]) == sorted(real["endpoints"])
    assert sorted(fixture["environment"]) == sorted(real["environment"])
    assert sorted(fixture["metrics"]) == sorted(real["metrics"])
    assert fixture["environment"]["name"] == real["environment"]["name"] == "mirkwood"
    for entry in real["inventory"]:
        assert set(entry) <= set(fixture["inventory"][0]) | {"addresses"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_ansible_inventory_from_the_real_synth_outputs(env, synth_result):
    run = synth_result(env)
    outputs_file = run.out / "outputs.json"
    done = subprocess.run([sys.executable, "-m", "stacks.ansible_inventory", "--outputs", str(outputs_file), "--list"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    inventory = json.loads(done.stdout)
    assert inventory["all"]["vars"]["homelab_environment"] == env
    assert inventory["all"]["vars"]["homelab_contract_version"] == run.outputs["contract_version"]
    assert sorted(inventory["_meta"]["hostvars"]) == sorted(h["name"] for h in run.outputs["inventory"])
    for host in run.outputs["inventory"]:
        for group in host["groups"]:
            assert host["name"] in inventory[group.replace("-", "_")]["hosts"]
        assert host["name"] in inventory[f"platform_{host['platform']}".replace("-", "_")]["hosts"]


@pytest.mark.parametrize("env", ["mirkwood", "lothlorien"])
def test_monitoring_leaves_the_cluster_only_to_the_configured_sources(env, synth_result):
    """mirkwood publishes Prometheus and Loki to production's network (which federates it), and
    nothing else; production publishes nothing. Alertmanager stays inside either cluster."""
    run = synth_result(env)
    published = {r["name"]: r["inputs"]["spec"] for r in run.of_type("kubernetes:core/v1:Service")
                 if r["inputs"]["spec"].get("type") in ("LoadBalancer", "NodePort")
                 and "-monitoring-" in r["name"]}
    assert published == {}
    # mirkwood (which production federates) publishes both through Traefik behind a login;
    # production publishes nothing.
    ingresses = sorted(r["name"] for r in run.of_type("kubernetes:networking.k8s.io/v1:Ingress")
                       if "-monitoring-" in r["name"])
    expected = {"mirkwood": ["mirkwood-monitoring-loki-external", "mirkwood-monitoring-prometheus-external"],
                "lothlorien": []}[env]
    assert ingresses == expected
    logins = sorted(r["name"] for r in run.of_type("kubernetes:traefik.io/v1alpha1:Middleware"))
    assert logins == {"mirkwood": ["mirkwood-monitoring-loki-login", "mirkwood-monitoring-prometheus-login"],
                      "lothlorien": []}[env]
    assert (run.outputs["monitoring_credentials"] == "[secret]") == (env == "mirkwood")
    values = yaml.safe_load(run.artifacts[f"helm/{env}-monitoring-prometheus.values.yaml"])
    assert values["alertmanager"]["service"]["type"] == values["server"]["service"]["type"] == "ClusterIP"
    assert "web.enable-lifecycle" not in json.dumps(values)
    if env == "lothlorien":
        assert run.outputs["endpoints"]["alertmanager"].endswith(".svc.cluster.local:9093")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_alloy_runs_on_the_tainted_pi_of_each_environment(env, synth_result):
    run = synth_result(env)
    alloy = next(r for r in run.of_type(RELEASE) if r["inputs"]["chart"] == "alloy")
    values = alloy["inputs"]["values"]
    taints = {t for c in load(env).k3s.clusters for ts in c.node_taints.values() for t in ts}
    assert taints == {"homelab.io/pi=true:NoSchedule"}
    assert {"key": "homelab.io/pi", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in \
        values["controller"]["tolerations"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_prometheus_scrapes_telegraf_so_write_failures_can_alert(env, synth_result):
    run = synth_result(env)
    prometheus = next(r for r in run.of_type(RELEASE) if r["inputs"]["chart"] == "prometheus")
    jobs = {j["job_name"]: j for j in prometheus["inputs"]["values"]["serverFiles"]["prometheus.yml"]["scrape_configs"]}
    assert jobs["telegraf"]["static_configs"] == [{"targets": ["telegraf.mtig.svc.cluster.local:9273"]}]
    services = {r["inputs"]["metadata"]["name"]: r for r in run.of_type("kubernetes:core/v1:Service")}
    assert services["telegraf"]["inputs"]["spec"]["ports"][0]["port"] == 9273


def test_no_published_password_or_hash_in_any_synth_artifact(synth_result):
    """mirkwood's passwords (what pulumi-random makes, here the mock's deterministic values) and
    their bcrypt hashes appear in no artifact, no output file and no resource input in clear."""
    from synth.mocks import _random_password

    run = synth_result("mirkwood")
    made = [_random_password({"length": 32}, f"mirkwood-monitoring-{kind}-password") for kind in ("prometheus", "loki")]
    assert len({m["result"] for m in made}) == 2
    lengths = {r["name"]: r["inputs"]["length"] for r in run.of_type("random:index/randomPassword:RandomPassword")
               if "-monitoring-" in r["name"]}
    assert lengths == {"mirkwood-monitoring-prometheus-password": 32, "mirkwood-monitoring-loki-password": 32}
    texts = {**run.artifacts, "outputs.json": (run.out / "outputs.json").read_text(),
             "resources.json": (run.out / "resources.json").read_text()}
    assert len(texts) > 10
    for m in made:
        for secret in (m["result"], m["bcryptHash"]):
            assert not [name for name, text in texts.items() if secret in text]


def test_production_grafana_takes_the_upstream_login_from_a_secret_made_before_it(synth_result):
    """lothlorien's Grafana reads mirkwood's passwords and CA from a Secret in its namespace, made
    (from the StackReference's secret outputs) before the release; its datasources file names them."""
    run = synth_result("lothlorien")
    by_name = {r["name"]: r for r in run.resources}
    secret = by_name["mtig-secret-monitoring-upstream-mirkwood"]
    assert secret["type"] == "kubernetes:core/v1:Secret"
    assert secret["inputs"]["metadata"]["namespace"] == "mtig"
    assert secret["inputs"]["stringData"] == "[secret]"
    assert secret["urn"] in by_name["mtig-grafana-release"]["dependencies"]
    values = yaml.safe_load(run.artifacts["helm/mtig-grafana-release.values.yaml"])
    assert {var: ref["secretKeyRef"] for var, ref in values["envValueFrom"].items() if var.startswith("UPSTREAM_")} == {
        "UPSTREAM_MIRKWOOD_CA": {"key": "ca.crt", "name": "monitoring-upstream-mirkwood"},
        "UPSTREAM_MIRKWOOD_LOKI_PASSWORD": {"key": "loki-password", "name": "monitoring-upstream-mirkwood"},
        "UPSTREAM_MIRKWOOD_PROMETHEUS_PASSWORD": {"key": "prometheus-password", "name": "monitoring-upstream-mirkwood"},
    }
    datasources = yaml.safe_load(next(text for name, text in run.artifacts.items()
                                      if name.startswith("configs/mtig/grafana-datasources/")))
    mirkwood = {d["uid"]: d for d in datasources["datasources"] if d["uid"].endswith("-mirkwood")}
    assert mirkwood["prometheus-mirkwood"]["secureJsonData"]["basicAuthPassword"] == \
        "${UPSTREAM_MIRKWOOD_PROMETHEUS_PASSWORD}"
    assert mirkwood["loki-mirkwood"]["basicAuth"] is True
    # mirkwood has no upstream: no such Secret there.
    assert not [r for r in synth_result("mirkwood").resources if "monitoring-upstream" in r["name"]]
