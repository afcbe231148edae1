"""Realistic outputs for every resource type the program registers, under Pulumi's mocks.

OUTPUTS maps a type token to a function of (inputs, name) returning the provider-computed outputs
(camelCase, as the engine would return them). Inputs are echoed back as the state's base.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pulumi

Outputs = Callable[[dict[str, Any], str], dict[str, Any]]


def stable_int(*parts: str, modulo: int) -> int:
    """A deterministic number from names, for addresses and ids that must not change between runs."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") % modulo


OUTPUTS: dict[str, Outputs] = {}
CALLS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class HomelabMocks(pulumi.runtime.Mocks):
    """Echo inputs and add the outputs a real provider would compute."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        outputs = OUTPUTS.get(args.typ)
        if outputs is not None:
            state.update(outputs(args.inputs, args.name))
        resource_id = args.resource_id or f"{args.name}-id"
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        handler = CALLS.get(args.token)
        return handler(args.args) if handler else {}


# ---- incus (components/incus/binding.py): what the lxc/incus provider computes -------------------

def _incus_devices(inputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d.get("name"): d for d in inputs.get("devices") or [] if isinstance(d, dict)}


def _incus_instance(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    nic = (_incus_devices(inputs).get("eth0") or {}).get("properties") or {}
    n = stable_int(name, "incus", modulo=250 * 250)
    # A static address is what Incus reports; otherwise a DHCP lease the mock cannot know: a stand-in.
    address = nic.get("ipv4.address") or f"10.255.{n // 250}.{n % 250 + 2}"
    mac = stable_int(name, "mac", modulo=1 << 24)
    return {"ipv4Address": address, "ipv6Address": "", "macAddress": f"10:66:6a:{mac >> 16:02x}:"
            f"{(mac >> 8) & 0xff:02x}:{mac & 0xff:02x}", "status": "Running",
            "target": inputs.get("target") or "", "type": inputs.get("type") or "container"}


def _incus_storage_volume(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {"location": inputs.get("target") or "", "type": inputs.get("type") or "custom",
            "contentType": inputs.get("contentType") or "filesystem"}


def _incus_network(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {"managed": True, "type": inputs.get("type") or "bridge"}


OUTPUTS.update({
    "incus:index/instance:Instance": _incus_instance,
    "incus:index/storageVolume:StorageVolume": _incus_storage_volume,
    "incus:index/network:Network": _incus_network,
    "incus:index/profile:Profile": lambda inputs, name: {"config": inputs.get("config") or {}},
})


def _kubernetes_service(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    """A Service gets a cluster IP; a LoadBalancer one an address from k3s' service load balancer."""
    spec = dict(inputs.get("spec") or {})
    spec.setdefault("clusterIP", f"10.43.{stable_int(name, 'svc', modulo=250)}.{stable_int(name, 'ip', modulo=250) + 2}")
    status: dict[str, Any] = {"loadBalancer": {}}
    if spec.get("type") == "LoadBalancer":
        status = {"loadBalancer": {"ingress": [{"ip": f"192.0.2.{stable_int(name, 'lb', modulo=250) + 2}"}]}}
    return {"spec": spec, "status": status}


OUTPUTS["kubernetes:core/v1:Service"] = _kubernetes_service
