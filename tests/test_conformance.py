"""Provider conformance: every registered input is a real property of the pinned SDK's types."""

from __future__ import annotations

import pytest

from synth import conformance
from tests.conftest import ENVIRONMENTS


def _record(type_: str, inputs: dict) -> dict:
    return {"urn": f"urn:pulumi:test::homelab::{type_}::x", "type": type_, "name": "x", "custom": True,
            "inputs": inputs}


def test_misspelt_nested_key_is_found():
    problems = conformance.check([_record("proxmoxve:index/vmLegacy:VmLegacy", {
        "nodeName": "iluvatar",
        "cpu": {"cores": 2, "tpye": "host"},
        "networkDevices": [{"bridge": "vmbr0", "vlanid": 40}],
    })])
    assert problems == [
        "proxmoxve:index/vmLegacy:VmLegacy x.cpu.tpye: not a property of VmLegacyCpuArgs; did you mean 'type'?",
        "proxmoxve:index/vmLegacy:VmLegacy x.networkDevices[0].vlanid: not a property of "
        "VmLegacyNetworkDeviceArgs; did you mean 'vlanId'?",
    ]


def test_missing_required_property_is_found():
    problems = conformance.check([_record("linode:index/instance:Instance", {"label": "fleur"})])
    assert problems == ["linode:index/instance:Instance x.region: required property of InstanceArgs is missing"]


def test_unknown_type_is_reported():
    assert conformance.check([_record("nosuch:index/thing:Thing", {})]) == [
        "urn:pulumi:test::homelab::nosuch:index/thing:Thing::x: no SDK input type known for nosuch:index/thing:Thing"]


def test_kubernetes_manifest_keys_are_checked():
    problems = conformance.check([_record("kubernetes:core/v1:ConfigMap", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespce": "b"}, "data": {"k": "v"}})])
    assert problems == ["kubernetes:core/v1:ConfigMap x.metadata.namespce: not a property of ObjectMetaArgs; "
                        "did you mean 'namespace'?"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_whole_program_conforms(env, synth_result):
    run = synth_result(env)
    assert conformance.check(run.resources) == []
    assert "provider conformance: ok" in run.stdout
