"""Pure renderers of components/monitoring, checked by the real tools (promtool, amtool)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.monitoring import render
from tests.tools import require_tool

FIXTURES = Path(__file__).parent / "fixtures" / "monitoring"
WEBHOOKS = {"ops": "https://hooks.example.invalid/ops-0123456789"}

PROM_SPEC = render.PrometheusSpec(
    environment="lothlorien",
    cluster="lothlorien",
    k8s_nodes=(render.K8sNode("lorien-k3s-1", "10.40.0.21"), render.K8sNode("lorien-k3s-2", "10.40.0.22")),
    kube_state_metrics="prometheus-kube-state-metrics.monitoring.svc.cluster.local:8080",
    static_jobs=(
        render.StaticJob("mosquitto", ("mosquitto-exporter.metrics.svc.cluster.local:9234",)),
        render.StaticJob("telegraf", ("telegraf.metrics.svc.cluster.local:9273",)),
        render.StaticJob("hosts", ("10.40.0.5:9100",)),
        render.StaticJob("empty", ()),
    ),
    pve=render.PveTargets("pve-exporter.monitoring.svc.cluster.local:9221", ("pve1.lorien.lan",)),
    incus=render.IncusTargets(("10.40.0.30:8443",)),
    federation=render.Federation("mirkwood", "https://prometheus-mirkwood.monitoring.svc.cluster.local:443",
                                 username="homelab", server_name="prometheus-mirkwood.monitoring.internal"),
    alertmanager_targets=("prometheus-alertmanager.monitoring.svc.cluster.local:9093",),
)
AM_SPEC = render.AlertmanagerSpec(
    receiver="ops",
    receivers=(render.Receiver("ops", webhook=True), render.Receiver("blackhole")),
    routes=(render.Route("blackhole", matchers=('severity="info"',)),),
)


def tmp_paths(tmp_path: Path) -> render.Paths:
    """The files the config references, as empty placeholders, so promtool can stat them."""
    for rel in ("sa/token", "sa/ca.crt", "incus/tls.crt", "incus/tls.key", "upstream/password", "upstream/ca.crt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("placeholder\n")
    return render.Paths(
        config_dir=str(tmp_path), service_account_dir=str(tmp_path / "sa"), incus_cert_dir=str(tmp_path / "incus"),
        upstream_dir=str(tmp_path / "upstream"),
    )


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.mark.system
def test_prometheus_config_and_rules_pass_promtool_check_config(tmp_path):
    promtool = require_tool("promtool")
    paths = tmp_paths(tmp_path)
    (tmp_path / render.RULES_FILE).write_text(render.alert_rules())
    config = tmp_path / "prometheus.yml"
    config.write_text(render.dump(render.prometheus_config(PROM_SPEC, paths)))
    result = run(promtool, "check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    # The rule file is reached through rule_files and checked too.
    assert "SUCCESS: 7 rules found" in result.stdout


@pytest.mark.system
def test_promtool_rejects_the_config_when_the_token_file_is_missing(tmp_path):
    """The check above can fail: promtool stats the files the config names."""
    promtool = require_tool("promtool")
    paths = tmp_paths(tmp_path)
    (tmp_path / render.RULES_FILE).write_text(render.alert_rules())
    (tmp_path / "sa" / "token").unlink()
    config = tmp_path / "prometheus.yml"
    config.write_text(render.dump(render.prometheus_config(PROM_SPEC, paths)))
    result = run(promtool, "check", "config", str(config))
    assert result.returncode != 0
    assert f"{paths.service_account_dir}/token" in result.stdout + result.stderr


@pytest.mark.system
def test_alert_rules_pass_promtool_check_rules_and_unit_tests(tmp_path):
    promtool = require_tool("promtool")
    rules = tmp_path / render.RULES_FILE
    rules.write_text(render.alert_rules())
    checked = run(promtool, "check", "rules", str(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shutil.copy(FIXTURES / "alerting_rules_test.yml", tmp_path)
    tested = run(promtool, "test", "rules", str(tmp_path / "alerting_rules_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_alert_rules_cover_the_required_alerts_and_only_local_series():
    groups = yaml.safe_load(render.alert_rules())["groups"]
    rules = {r["alert"]: r for g in groups for r in g["rules"]}
    assert {"HostDown", "DiskAlmostFull", "DiskFillingUp", "K3sNodeNotReady", "MqttBrokerDown", "InfluxDBWriteFailures"} <= set(rules)
    for name, rule in rules.items():
        assert 'environment=""' in rule["expr"], name


@pytest.mark.system
def test_alertmanager_config_passes_amtool(tmp_path):
    amtool = require_tool("amtool")
    path = tmp_path / "alertmanager.yml"
    path.write_text(render.alertmanager_config(AM_SPEC, WEBHOOKS))
    result = run(amtool, "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 receivers" in result.stdout


@pytest.mark.system
def test_amtool_rejects_a_route_to_an_unknown_receiver(tmp_path):
    """What the renderer refuses (below), amtool refuses too: the check is real."""
    amtool = require_tool("amtool")
    doc = yaml.safe_load(render.alertmanager_config(AM_SPEC, WEBHOOKS))
    doc["route"]["routes"][0]["receiver"] = "pager"
    path = tmp_path / "alertmanager.yml"
    path.write_text(render.dump(doc))
    result = run(amtool, "check-config", str(path))
    assert result.returncode != 0
    assert 'undefined receiver "pager"' in result.stdout + result.stderr


def test_alertmanager_config_refuses_an_undefined_route_receiver():
    spec = render.AlertmanagerSpec(receiver="ops", receivers=(render.Receiver("ops", webhook=True),),
                                   routes=(render.Route("pager"),))
    with pytest.raises(ValueError, match="route receiver 'pager' is not defined"):
        render.alertmanager_config(spec, WEBHOOKS)


def test_alertmanager_webhook_url_lands_only_in_its_receiver():
    doc = yaml.safe_load(render.alertmanager_config(AM_SPEC, WEBHOOKS))
    by_name = {r["name"]: r for r in doc["receivers"]}
    assert by_name["ops"]["webhook_configs"] == [{"url": WEBHOOKS["ops"], "send_resolved": True}]
    assert "webhook_configs" not in by_name["blackhole"]


def test_federation_job_pulls_the_upstream_once_with_its_labels():
    config = render.prometheus_config(PROM_SPEC)
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    fed = jobs["federate-mirkwood"]
    assert fed["honor_labels"] is True
    assert fed["metrics_path"] == "/federate"
    assert fed["static_configs"] == [{"targets": ["prometheus-mirkwood.monitoring.svc.cluster.local:443"],
                                      "labels": {"federated_from": "mirkwood"}}]
    # Over TLS checked against the upstream's CA, with its login: the password is a file the
    # server mounts from a Secret, never a value in this config (which the chart keeps in a ConfigMap).
    assert fed["scheme"] == "https"
    assert fed["basic_auth"] == {"username": "homelab", "password_file": f"{render.UPSTREAM_DIR}/password"}
    assert "password" not in fed["basic_auth"]
    assert fed["tls_config"] == {"ca_file": f"{render.UPSTREAM_DIR}/ca.crt",
                                 "server_name": "prometheus-mirkwood.monitoring.internal"}
    (selector,) = fed["params"]["match[]"]
    assert 'job!~"federate-.*"' in selector and '__name__!~"ALERTS.*"' in selector
    # Our own series carry the environment when they leave (federation, alerts).
    assert config["global"]["external_labels"] == {"environment": "lothlorien", "cluster": "lothlorien"}
    # Without an upstream there is no federation job.
    alone = render.prometheus_config(render.PrometheusSpec(environment="mirkwood", cluster="mirkwood"))
    assert not [j for j in alone["scrape_configs"] if j["job_name"].startswith("federate")]


def test_scrape_jobs_for_nodes_metrics_stack_proxmox_and_incus():
    jobs = {j["job_name"]: j for j in render.prometheus_config(PROM_SPEC)["scrape_configs"]}
    assert {"nodes", "cadvisor", "node-exporter", "kube-state-metrics", "kubernetes-apiservers",
            "mosquitto", "telegraf", "hosts", "pve", "incus"} <= set(jobs)
    assert "empty" not in jobs
    assert jobs["node-exporter"]["static_configs"][0] == {"targets": ["10.40.0.21:9100"], "labels": {"node": "lorien-k3s-1"}}
    assert jobs["pve"]["relabel_configs"][-1]["replacement"] == "pve-exporter.monitoring.svc.cluster.local:9221"
    assert jobs["incus"]["metrics_path"] == "/1.0/metrics" and jobs["incus"]["scheme"] == "https"


@pytest.mark.system
def test_promtool_reads_the_federation_login(tmp_path):
    """The check of the whole config above covers the federation job's basic_auth and tls_config:
    promtool parses them (a login with both a password and a password_file is refused). It does
    not stat password_file or ca_file; the Secret mount gives them (test_prometheus_mounts_...)."""
    promtool = require_tool("promtool")
    paths = tmp_paths(tmp_path)
    (tmp_path / render.RULES_FILE).write_text(render.alert_rules())
    config = render.prometheus_config(PROM_SPEC, paths)
    (fed,) = [j for j in config["scrape_configs"] if j["job_name"] == "federate-mirkwood"]
    fed["basic_auth"]["password"] = "inline"
    path = tmp_path / "prometheus.yml"
    path.write_text(render.dump(config))
    result = run(promtool, "check", "config", str(path))
    assert result.returncode != 0
    assert "password" in result.stdout + result.stderr


def test_prometheus_mounts_the_upstream_login_secret():
    storage = render.StorageSpec(retention="30d", volume_size="50Gi")
    values = render.prometheus_values(PROM_SPEC, storage, render.alert_rules(), "alertmanager-config",
                                      upstream_secret="upstream-mirkwood-login")
    assert {"name": "upstream-login", "mountPath": render.UPSTREAM_DIR, "secretName": "upstream-mirkwood-login",
            "readOnly": True} in values["server"]["extraSecretMounts"]


def test_federation_refuses_a_url_without_scheme():
    with pytest.raises(ValueError, match="http"):
        render.federation_job(render.Federation("mirkwood", "10.30.0.21:9090"))


def test_prometheus_values_hold_exactly_the_checked_config():
    """The chart writes server.global + serverFiles[prometheus.yml] + server.alertmanagers."""
    storage = render.StorageSpec(retention="30d", volume_size="50Gi")
    values = render.prometheus_values(PROM_SPEC, storage, render.alert_rules(), "alertmanager-config", "incus-secret")
    config = render.prometheus_config(PROM_SPEC)
    reassembled = {
        "global": values["server"]["global"],
        **values["serverFiles"]["prometheus.yml"],
        "alerting": {"alertmanagers": values["server"]["alertmanagers"]},
    }
    assert reassembled == config
    assert values["server"]["retention"] == "30d"
    assert values["server"]["persistentVolume"]["size"] == "50Gi"
    # Inside the cluster only (the component publishes Prometheus to allowed sources itself), no
    # lifecycle API and so no reloader sidecar: a changed config rolls the pod through its checksum.
    assert values["server"]["service"]["type"] == "ClusterIP"
    assert values["alertmanager"]["service"]["type"] == "ClusterIP"
    assert values["server"]["extraFlags"] == []
    assert values["configmapReload"]["prometheus"]["enabled"] is False
    other = render.prometheus_values(PROM_SPEC, storage, render.alert_rules(render.RuleSpec(disk_free_percent=5)),
                                     "alertmanager-config", "incus-secret")
    checksums = {v["server"]["podAnnotations"]["checksum/config"] for v in (values, other)}
    assert len(checksums) == 2 and all(len(c) == 64 for c in checksums)
    assert values["alertmanager"]["config"] == {"enabled": False}  # no ConfigMap with secrets
    assert values["alertmanager"]["extraSecretMounts"][0]["secretName"] == "alertmanager-config"


@pytest.mark.parametrize("bad", ["15", "two weeks", "", "15D", "1.5d"])
def test_retention_must_be_a_duration(bad):
    with pytest.raises(ValueError, match="not a duration"):
        render.parse_duration(bad)


def test_durations_parse():
    assert render.parse_duration("1h30m") == 5400
    assert render.parse_duration("15d") == 15 * 86400


def test_loki_values_enable_compactor_retention():
    values = render.loki_values(render.StorageSpec(retention="336h", volume_size="20Gi"))
    assert values["loki"]["limits_config"]["retention_period"] == "336h"
    assert values["loki"]["compactor"]["retention_enabled"] is True
    assert values["deploymentMode"] == "SingleBinary"
    assert values["singleBinary"]["persistence"]["size"] == "20Gi"
    with pytest.raises(ValueError, match="whole number of days"):
        render.loki_values(render.StorageSpec(retention="36h", volume_size="20Gi"))


def test_alloy_ships_pod_logs_and_journald_to_loki():
    spec = render.AlloySpec("http://loki-push.monitoring.svc.cluster.local:3100/loki/api/v1/push", "mirkwood", "mirkwood")
    text = render.alloy_config(spec)
    assert 'loki.source.kubernetes "pods"' in text
    assert 'loki.source.journal "node"' in text and 'path          = "/var/log/journal"' in text
    assert f'url = "{spec.push_url}"' in text
    assert text.count("forward_to    = [loki.write.local.receiver]") == 1
    assert text.count("{") == text.count("}")
    values = render.alloy_values(spec)
    assert values["alloy"]["configMap"]["content"] == text
    assert values["alloy"]["mounts"]["varlog"] is True


def test_datasources_one_default_and_the_upstream():
    out = render.datasources("lothlorien", "http://p:9090", "http://l:3100", ("mirkwood", "http://mp:9090", "http://ml:3100"))
    assert [d["uid"] for d in out] == ["loki-lothlorien", "loki-mirkwood", "prometheus-lothlorien", "prometheus-mirkwood"]
    assert [d["uid"] for d in out if d["isDefault"]] == ["prometheus-lothlorien"]
    assert {d["url"] for d in out if d["uid"].endswith("mirkwood")} == {"http://mp:9090", "http://ml:3100"}


def test_rendering_is_deterministic():
    first = render.dump(render.prometheus_config(PROM_SPEC)) + render.alert_rules()
    second = render.dump(render.prometheus_config(PROM_SPEC)) + render.alert_rules()
    assert first == second


def test_alloy_tolerates_the_node_taints_so_tainted_pis_ship_logs():
    spec = render.AlloySpec("http://l:3100/loki/api/v1/push", "mirkwood", "mirkwood",
                            node_taints=("homelab.io/pi=true:NoSchedule", "dedicated:NoExecute", "homelab.io/pi=true:NoSchedule"))
    # grafana/alloy chart templates/controllers/_pod.yaml renders controller.tolerations into the pod.
    assert render.alloy_values(spec)["controller"]["tolerations"] == [
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
        {"key": "homelab.io/pi", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
    ]
    untainted = render.alloy_values(render.AlloySpec("http://l:3100/loki/api/v1/push", "m", "m"))
    assert "tolerations" not in untainted.get("controller", {})


def test_pve_cluster_metrics_come_from_one_node_and_node_metrics_from_each():
    # prometheus-pve-exporter answers cluster=1 with the whole cluster's guests from any node:
    # asked on three nodes, every guest would be counted three times.
    spec = render.PrometheusSpec(environment="lothlorien", cluster="lothlorien", pve=render.PveTargets(
        "pve-exporter.monitoring.svc.cluster.local:9221", ("10.20.0.23", "10.20.0.21", "10.20.0.22")))
    jobs = {j["job_name"]: j for j in render.prometheus_config(spec)["scrape_configs"]}
    assert jobs["pve"]["params"] == {"module": ["default"], "cluster": ["0"], "node": ["1"]}
    assert jobs["pve"]["static_configs"] == [{"targets": ["10.20.0.21", "10.20.0.22", "10.20.0.23"]}]
    assert jobs["pve-cluster"]["params"] == {"module": ["default"], "cluster": ["1"], "node": ["0"]}
    assert jobs["pve-cluster"]["static_configs"] == [{"targets": ["10.20.0.21"]}]
    assert "&id" not in yaml.safe_dump(render.prometheus_config(spec))  # no shared YAML anchors


def test_loki_keeps_its_volume_when_the_statefulset_goes():
    # grafana/loki single-binary statefulset.yaml: enableStatefulSetAutoDeletePVC (chart default
    # true) sets persistentVolumeClaimRetentionPolicy whenDeleted: Delete.
    values = render.loki_values(render.StorageSpec(retention="72h", volume_size="5Gi"))
    assert values["singleBinary"]["persistence"]["enableStatefulSetAutoDeletePVC"] is False
