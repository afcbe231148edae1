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


def _kubernetes_service(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    """A Service gets a cluster IP; a LoadBalancer one an address from k3s' service load balancer."""
    spec = dict(inputs.get("spec") or {})
    spec.setdefault("clusterIP", f"10.43.{stable_int(name, 'svc', modulo=250)}.{stable_int(name, 'ip', modulo=250) + 2}")
    status: dict[str, Any] = {"loadBalancer": {}}
    if spec.get("type") == "LoadBalancer":
        status = {"loadBalancer": {"ingress": [{"ip": f"192.0.2.{stable_int(name, 'lb', modulo=250) + 2}"}]}}
    return {"spec": spec, "status": status}


OUTPUTS["kubernetes:core/v1:Service"] = _kubernetes_service
