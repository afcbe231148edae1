"""TLS verification is on unless the config says otherwise: the PVE exporter, Prometheus' Incus
metrics job and the Incus provider (issue #16, point 8)."""

from __future__ import annotations

import json

import pulumi
import yaml

from components.monitoring import Monitoring, render
from components.monitoring.component import MonitoringArgs
from stacks.config.incus import Remote
from stacks.config.monitoring import IncusConfig, Monitoring as MonitoringConfig
from tests.conftest import RECORDED, registered
from tests.test_monitoring_component import make_args


def test_every_tls_switch_defaults_to_verifying():
    assert Remote(address="https://10.50.0.40:8443").accept_certificate is False
    mon = MonitoringConfig.model_validate({"proxmox": {"targets": ["10.20.0.21"]}, "incus": {"targets": ["x:8443"]}})
    assert mon.proxmox.verify_tls is True
    assert mon.incus.insecure_skip_verify is False
    assert IncusConfig().insecure_skip_verify is False
    fields = MonitoringArgs.__dataclass_fields__
    assert fields["pve_verify_tls"].default is True
    assert fields["incus_insecure_skip_verify"].default is False
    assert render.IncusTargets(("x:8443",)).insecure_skip_verify is False


def test_the_config_can_turn_verification_off_explicitly():
    mon = MonitoringConfig.model_validate({"proxmox": {"targets": ["10.20.0.21"], "verify_tls": False},
                                           "incus": {"targets": ["x:8443"], "insecure_skip_verify": True}})
    assert (mon.proxmox.verify_tls, mon.incus.insecure_skip_verify) == (False, True)
    assert Remote(address="https://10.50.0.40:8443", accept_certificate=True).accept_certificate is True


def test_production_verifies_incus_and_its_metrics(synth_result):
    run = synth_result("lothlorien")
    providers = {r["name"]: r["inputs"] for r in run.resources if r["type"] == "pulumi:providers:incus"}
    assert sorted(providers) == ["incus-cluster01", "incus-iapetus"]
    assert {name: inputs.get("acceptRemoteCertificate") for name, inputs in providers.items()} == {
        "incus-cluster01": "false", "incus-iapetus": "false"}
    values = yaml.safe_load(run.artifacts["helm/lothlorien-monitoring-prometheus.values.yaml"])
    jobs = {job["job_name"]: job for job in values["serverFiles"]["prometheus.yml"]["scrape_configs"]}
    assert jobs["incus"]["tls_config"]["insecure_skip_verify"] is False


@pulumi.runtime.test
def test_pve_exporter_verifies_the_nodes_certificates_by_default():
    mon = Monitoring("mon-tls", make_args())

    def check(_):
        secrets = {r["name"]: RECORDED.revealed[r["urn"]] for r in registered("mon-tls", "kubernetes:core/v1:Secret")}
        pve = yaml.safe_load(secrets["mon-tls-pve-exporter-config"]["stringData"]["pve.yml"])
        assert pve["default"]["verify_ssl"] is True
        assert json.dumps(pve).count("verify_ssl") == 1

    return pulumi.Output.all(*[r.urn for r in mon.resources]).apply(check)
