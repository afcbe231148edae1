"""Proxmox's metric server to the mtig InfluxDB (components/backups/pvemetrics.py, stacks/backups.py)."""

from __future__ import annotations

import pytest

from components.backups import pvemetrics
from synth.wire import MASK
from tests.conftest import ENVIRONMENTS

SERVER = "proxmoxve:metrics/server:Server"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_proxmox_sends_its_metrics_to_the_published_influxdb(env, synth_result):
    run = synth_result(env)
    (server,) = run.of_type(SERVER)
    inputs = server["inputs"]
    api_host = run.outputs["k3s"]["api_endpoint"].split("://", 1)[1].rsplit(":", 1)[0]
    metrics = run.outputs["metrics"]
    assert inputs == {
        "name": f"homelab-{env}", "type": "influxdb", "server": api_host, "port": 8086, "influxDbProto": "http",
        "influxOrganization": metrics["influxdb_org"], "influxBucket": metrics["influxdb_bucket"],
        "influxToken": MASK,
    }
    # Values the provider accepts (resource_metrics_server.go: OneOf graphite/influxdb/opentelemetry, udp/http/https).
    assert inputs["type"] in {"graphite", "influxdb", "opentelemetry"} and inputs["influxDbProto"] in {"udp", "http", "https"}
    (service,) = [r for r in run.resources if r["type"] == "kubernetes:core/v1:Service"
                  and r["inputs"]["metadata"]["name"] == pvemetrics.SERVICE]
    spec = service["inputs"]["spec"]
    assert spec["type"] == "LoadBalancer"
    # The influxdb2 chart's selector labels: chart name and release name (charts/influxdb2/templates/_helpers.tpl).
    assert spec["selector"] == {"app.kubernetes.io/name": "influxdb2", "app.kubernetes.io/instance": "influxdb"}
    assert spec["ports"] == [{"name": "http", "port": 8086, "targetPort": 8086, "protocol": "TCP"}]
    assert service["urn"] in server["dependencies"]
    release = next(r for r in run.resources if r["type"] == "kubernetes:helm.sh/v3:Release" and r["inputs"]["chart"] == "influxdb2")
    assert release["inputs"]["name"] == "influxdb"  # the release name the selector relies on
    assert release["urn"] in server["dependencies"]
