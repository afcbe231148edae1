"""stacks/config/monitoring.py: the section's checks and the secrets it asks for."""

from __future__ import annotations

import copy
import json

import pytest

from stacks.config import loader
from stacks.config.model import needed_secrets
from synth.engine import synth_config


def entries_for(env: str, **monitoring_changes):
    entries, secret_keys, _ = synth_config(env)
    entries = copy.deepcopy(entries)
    section = json.loads(entries["homelab:monitoring"]) if isinstance(entries["homelab:monitoring"], str) \
        else entries["homelab:monitoring"]
    section.update(monitoring_changes)
    entries["homelab:monitoring"] = section
    return entries, secret_keys


def errors(env: str, upstream: str | None = "keep", **changes) -> list[str]:
    entries, secret_keys = entries_for(env, **changes)
    if upstream != "keep":
        entries["homelab:upstream"] = upstream
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack=env, secret_keys=secret_keys)
    return sorted(caught.value.lines)


def test_two_default_grafana_datasources_are_refused():
    assert errors("lothlorien", grafana_default=True) == [
        "monitoring.grafana_default: Grafana would get two default datasources (Prometheus and InfluxDB): "
        "set mtig.grafana.influxdb_default: false or monitoring.grafana_default: false (got True)"
    ]


def test_upstream_must_be_a_full_stack_reference():
    assert errors("lothlorien", upstream="mirkwood") == [
        "upstream: must be a stack reference organization/project/stack, e.g. organization/homelab/mirkwood "
        "(got 'mirkwood')"
    ]


def test_undefined_default_receiver_and_duplicate_receivers():
    assert errors("mirkwood", alertmanager={"receiver": "pager", "receivers": [{"name": "ops"}, {"name": "ops"}]}) == [
        "monitoring.alertmanager.receiver: receiver is not defined (defined: ops) (got 'pager')",
        "monitoring.alertmanager.receivers[1].name: duplicate receiver name (got 'ops')",
    ]


def test_webhook_receivers_proxmox_incus_and_mqtt_exporter_ask_for_their_secrets():
    entries, secret_keys = entries_for(
        "lothlorien", proxmox={"targets": ["10.50.0.2"], "token_id": "prometheus@pve!exporter"}, incus={"targets": ["10.50.0.30:8443"]},
        mqtt_exporter={"user": "telegraf"},
    )
    given = {"pveExporterToken": "prometheus@pve!exporter=placeholder", "incusMetricsCertificate": "placeholder",
             "incusMetricsKey": "placeholder"}
    for key, value in given.items():
        entries[f"homelab:{key}"] = value
        secret_keys = {*secret_keys, f"homelab:{key}"}
    cfg = loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    keys = {spec.key for spec in needed_secrets(cfg)}
    assert {"alertmanagerWebhook-ops", "pveExporterToken", "incusMetricsCertificate", "incusMetricsKey",
            "mqttPassword-telegraf"} <= keys


@pytest.mark.parametrize("size", ["20", "20GB", "0Gi"])
def test_volume_size_must_be_a_quantity(size):
    assert errors("mirkwood", prometheus={"volume_size": size}) == [
        f"monitoring.prometheus.volume_size: volume_size must be a Kubernetes quantity such as 20Gi (got '{size}')"
    ]


def test_route_matchers_are_checked():
    assert errors("mirkwood", alertmanager={"receiver": "ops", "receivers": [{"name": "ops"}],
                                            "routes": [{"receiver": "ops", "matchers": ["severity: critical"]}]}) == [
        "monitoring.alertmanager.routes[0].matchers: matcher 'severity: critical' must look like "
        "label=\"value\" (=, !=, =~ or !~) (got ['severity: critical'])"
    ]


def test_continue_is_read_from_its_yaml_name():
    from stacks.config.monitoring import Route

    assert Route.model_validate({"receiver": "ops", "continue": True}).continue_ is True


@pytest.mark.system
@pytest.mark.parametrize("env", ["mirkwood", "lothlorien"])
def test_committed_alertmanager_configs_pass_amtool(env, tmp_path):
    """The routing trees of the committed stack files, as the layer renders them, pass amtool."""
    import subprocess

    from components.monitoring import render
    from stacks import monitoring as layer
    from tests.tools import require_tool

    amtool = require_tool("amtool")
    entries, secret_keys, _ = synth_config(env)
    cfg = loader.validate(entries, stack=env, secret_keys=secret_keys)
    spec = layer.alertmanager_spec(cfg.monitoring.alertmanager)
    urls = {r.name: f"https://hooks.example.invalid/{r.name}" for r in spec.receivers if r.webhook}
    path = tmp_path / "alertmanager.yml"
    path.write_text(render.alertmanager_config(spec, urls))
    done = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_and_loki_are_not_published_to_everyone():
    assert errors("mirkwood", allowed_sources=["10.50.0.0/24", "0.0.0.0/0"]) == [
        "monitoring.allowed_sources: may not include 0.0.0.0/0: name the networks that need Prometheus and Loki "
        "(got ['10.50.0.0/24', '0.0.0.0/0'])"]
