"""The stack contract's `backups` entry (stacks/outputs.py, stacks/CONTRACT.md): what is backed up
where, added in contract 1.1 (a minor bump: readers of 1.x keep working)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks import outputs
from tests.conftest import ENVIRONMENTS

CONTRACT = Path(__file__).resolve().parent.parent / "stacks" / "CONTRACT.md"
FIELDS = {"kind", "what", "method", "target", "off_host", "schedule", "retention"}


def test_contract_version_has_backups_since_1_1_and_incus_volumes_since_2_1():
    # 1.1 added `backups`; 2 moved the kubeconfig to a top-level secret output (a removal); 2.1 added
    # the `incus-volume` kind (an addition: readers of 2.x keep working); 2.2 `monitoring_credentials`.
    assert outputs.CONTRACT_VERSION == "2.2"
    assert '`contract_version` | string | `"2.2"`' in CONTRACT.read_text()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_backups_output_lists_every_kind_and_its_target(env, synth_result):
    run = synth_result(env)
    entries = run.outputs["backups"]
    incus = ["incus-volume", "incus-volume"] if env == "lothlorien" else []  # mirkwood has no Incus
    assert [e["kind"] for e in entries] == ["proxmox-guests", "k3s-etcd", "influxdb", "grafana", *incus]
    assert all(set(e) == FIELDS for e in entries)
    by_kind = {e["kind"]: e for e in entries}
    guests = sorted(h["name"] for h in run.outputs["inventory"] if h["platform"].startswith("proxmox-"))
    assert by_kind["proxmox-guests"]["what"] == guests
    assert by_kind["k3s-etcd"]["target"] == f"s3://homelab-{env}-backups/k3s/{env}"
    assert by_kind["influxdb"]["target"] == f"s3://homelab-{env}-backups/influxdb"
    volumes = {e["what"][0]: e["target"] for e in entries if e["kind"] == "incus-volume"}
    assert volumes == ({"atlantis-data": "s3://homelab-lothlorien-backups/incus/iapetus/atlantis-data",
                        "mosquitto-data": "s3://homelab-lothlorien-backups/incus/cluster01/mosquitto-data"}
                       if env == "lothlorien" else {})
    production = env == "lothlorien"
    assert by_kind["proxmox-guests"]["off_host"] is production  # staging writes vzdump to the node's own storage
    assert all(e["off_host"] for e in entries if e["kind"] != "proxmox-guests")
    assert "placeholder" not in repr(entries) and "[secret]" not in repr(entries)


def test_contract_documents_every_field():
    text = CONTRACT.read_text()
    assert "### `backups[]`" in text
    for field in FIELDS:
        assert f"| `{field}` |" in text
