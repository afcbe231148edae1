"""The mtig layer wired from each committed stack config onto a cluster's provider.

Until the k3s layer hands over a real `Cluster`, the cluster here carries a Kubernetes provider
built in the test. When the whole-program synth renders the stack (k3s configured), the checks
also run on the synth's own artifacts.
"""

from __future__ import annotations

import base64

import json
import re
import tomllib

import kubernetes_validate
import pulumi
import pytest
import yaml
from pulumi.runtime import config as runtime_config

from components.mtig import render
from stacks import mtig as layer
from stacks.config import loader
from stacks.secrets import Secrets
from stacks.hosts import Cluster
from synth.engine import synth_config
from synth.mocks import random_bytes
from tests import mtig_support as ms
from tests.helpers import named, some
from tests.conftest import ENVIRONMENTS


@pytest.fixture
def stack_config(request):
    """Load an environment's committed config into the Pulumi runtime (secrets as placeholders)."""
    env = request.param
    entries, secret_keys, values = synth_config(env)
    saved = (dict(runtime_config.CONFIG.get()), set(runtime_config._SECRET_KEYS.get()))
    plain = {k: v if isinstance(v, str) else json.dumps(v) for k, v in entries.items()}
    pulumi.runtime.set_all_config(plain, sorted(secret_keys))
    yield loader.validate(entries, stack=env, secret_keys=secret_keys), values
    pulumi.runtime.set_all_config(saved[0], sorted(saved[1]))


def test_cluster(name: str) -> Cluster:
    provider = ms.k8s_provider()
    return Cluster(
        name=name,
        api_endpoint=pulumi.Output.from_input("https://10.40.0.10:6443"),
        kubeconfig=pulumi.Output.secret("apiVersion: v1\nkind: Config\n"),
        provider=provider,
        version="v1.31.4+k3s1",
    )


test_cluster.__test__ = False  # a helper, not a test


@pytest.mark.parametrize("stack_config", ENVIRONMENTS, indirect=True)
@pulumi.runtime.test
def test_layer_deploys_the_configured_stack(stack_config):
    cfg, secret_values = stack_config
    rec = ms.Recorder()
    metrics = layer.deploy(cfg, Secrets(), test_cluster(cfg.environment.name))
    assert metrics is not None

    def check(values):
        outputs, _ = values
        assert outputs["mqtt_url"] == f"mqtt://mosquitto.{cfg.mtig.namespace}.svc.cluster.local:1883"
        # HTTPS: the committed environments run the lab CA (cert-manager issues grafana-tls).
        assert outputs["grafana_url"] == f"https://{cfg.mtig.grafana.hostname}"
        assert outputs["influxdb_org"] == cfg.mtig.influxdb.org
        production = cfg.environment.production
        stateful = ("mtig-namespace", "mtig-mosquitto-data", "mtig-influxdb-data", "mtig-grafana-data")
        for reg in named((r for r in rec.registrations if r.name in stateful), stateful,
                         "the MTIG namespace and data volumes", key=lambda r: r.name):
            assert (reg.protect, reg.retain_on_delete) == (production, production), reg.name
        manifests = some((m for m in rec.manifests() if m["kind"] != "Secret"), "MTIG manifests")
        assert {"Namespace", "Deployment", "ConfigMap", "PersistentVolumeClaim"} <= {m["kind"] for m in manifests}
        for manifest in manifests:
            kubernetes_validate.validate(manifest, ms.K3S_VERSION, strict=True)
        everything = json.dumps([r.inputs for r in rec.registrations])
        for value in secret_values.values():
            assert value not in everything
        acl = rec.by_name("mtig-mosquitto-config").inputs["data"]["acl"]
        for user in cfg.mtig.mosquitto.users:
            assert f"\nuser {user}\n" in acl
        passwd = rec.by_name("mtig-mosquitto-passwords").revealed["stringData"]["passwd"]
        users = cfg.mtig.mosquitto.users
        # Each user's salt is its own RandomBytes (the mocks' bytes for that resource name).
        assert sorted(r.name for r in rec.of_type("random:index/randomBytes:RandomBytes")) == sorted(
            f"mtig-mosquitto-salt-{u}" for u in users)
        salts = {u: base64.b64encode(random_bytes(f"mtig-mosquitto-salt-{u}", render.SALT_BYTES)).decode()
                 for u in users}
        expected = render.password_file({u: secret_values[f"mqttPassword-{u}"] for u in users}, salts)
        assert passwd == expected

    return pulumi.Output.all(
        pulumi.Output.from_input(metrics.outputs()), ms.settled(metrics.stack)
    ).apply(check)


@pytest.mark.parametrize("stack_config", ["mirkwood"], indirect=True)
def test_layer_without_a_cluster_declares_nothing(stack_config):
    cfg, _ = stack_config
    rec = ms.Recorder()
    assert layer.deploy(cfg, Secrets(), None) is None
    assert rec.registrations == []


# --- on the whole-program synth ------------------------------------------------------------


def synth_mtig(synth_result, env: str):
    run = synth_result(env)
    files = {path: text for path, text in run.artifacts.items() if "/mtig/" in path or path.endswith("namespace-mtig.yaml")}
    # Both committed environments deploy MTIG: a synth without its artifacts lost a layer.
    assert files, f"{env}: the synth renders no mtig artifacts"
    return run, files


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_synth_renders_valid_kubernetes_manifests(synth_result, env):
    run, files = synth_mtig(synth_result, env)
    manifests = [yaml.safe_load(text) for path, text in files.items() if path.startswith("kubernetes/")]
    assert {m["kind"] for m in manifests} >= {
        "ConfigMap", "Deployment", "Service", "Job", "PersistentVolumeClaim", "Namespace",
    }
    for manifest in manifests:
        kubernetes_validate.validate(manifest, ms.K3S_VERSION, strict=True)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_synth_telegraf_and_grafana_files(synth_result, env):
    run, files = synth_mtig(synth_result, env)
    telegraf = tomllib.loads(files["configs/mtig/telegraf-config/telegraf.conf"])
    assert set(telegraf["inputs"]) == {"mqtt_consumer", "internal"}
    assert set(telegraf["outputs"]) == {"influxdb_v2", "prometheus_client"}
    datasources = yaml.safe_load(files["configs/mtig/grafana-datasources/datasources.yaml"])
    assert sum(1 for d in datasources["datasources"] if d["isDefault"]) == 1
    metrics = run.outputs["metrics"]
    assert metrics["mqtt_url"].startswith("mqtt://mosquitto.")


@pytest.mark.parametrize("stack_config", ["mirkwood"], indirect=True)
@pulumi.runtime.test
def test_monitoring_layer_can_add_grafana_datasources(stack_config):
    from components.mtig import Datasource, SecretRef

    cfg, _ = stack_config
    prometheus = Datasource(name="Prometheus", type="prometheus", uid="prometheus",
                            url="http://prometheus.monitoring.svc.cluster.local:9090")
    loki = Datasource(name="Loki", type="loki", uid="loki", url="http://loki.monitoring.svc.cluster.local:3100",
                      secure_env={"httpHeaderValue1": "LOKI_TENANT_TOKEN"})
    rec = ms.Recorder()
    metrics = layer.deploy(cfg, Secrets(), test_cluster(cfg.environment.name), [prometheus, loki],
                           {"LOKI_TENANT_TOKEN": SecretRef("loki-tenant", "token")})

    def check(_):
        text = rec.by_name("mtig-grafana-datasources").inputs["data"]["datasources.yaml"]
        doc = yaml.safe_load(text)
        assert [(d["name"], d["isDefault"]) for d in doc["datasources"]] == [
            ("InfluxDB", True), ("Loki", False), ("Prometheus", False),
        ]
        env = rec.by_name("mtig-grafana-release").inputs["values"]["envValueFrom"]
        assert env["LOKI_TENANT_TOKEN"] == {"secretKeyRef": {"name": "loki-tenant", "key": "token"}}

    return ms.settled(metrics.stack).apply(check)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_synth_pins_every_chart_and_image_and_sizes_every_workload(env, synth_result):
    """Issue 7, point 5, on what the synth registers: no floating versions, no unbounded pods."""
    run = synth_result(env)
    mtig = [r for r in run.resources if "homelab:mtig:" in (r["parent"] or "") + r["type"]]
    releases = [r for r in mtig if r["type"] == "kubernetes:helm.sh/v3:Release"]
    assert sorted(r["inputs"]["chart"] for r in releases) == ["grafana", "influxdb2"]
    for release in releases:
        inputs = release["inputs"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", inputs["version"]), release["name"]
        assert inputs["repositoryOpts"]["repo"].startswith("https://"), release["name"]
        assert set(inputs["values"]["resources"]) == {"requests", "limits"}, release["name"]
    pods = [r for r in mtig if r["type"] in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")]
    assert len(pods) >= 3
    for workload in pods:
        spec = workload["inputs"]["spec"]["template"]["spec"]
        for container in spec["containers"] + spec.get("initContainers", []):
            image, _, tag = container["image"].rpartition(":")
            assert image and tag and tag != "latest", container["image"]
            assert set(container["resources"]) == {"requests", "limits"}, workload["name"]
