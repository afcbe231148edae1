"""Check every registered resource's inputs against the pinned SDKs' input types.

Pulumi's mocks accept any key, so a misspelt property would pass every other test and fail only at
`pulumi up`. This walks each custom resource's wire-level inputs (camelCase), nested objects
included, against the SDK's `@input_type` classes: every key must be a real property of its type,
and every required property must be present.
"""

from __future__ import annotations

import collections.abc
import difflib
import functools
import importlib
import importlib.util
import inspect
import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

import pulumi
from pulumi import _types

from components.ca import crd as ca_crd
from components.incus import binding as incus_binding
from components.monitoring import publish as monitoring_publish

SDK_PACKAGES = ("pulumi_proxmoxve", "pulumi_linode", "pulumi_command", "pulumi_kubernetes", "pulumi_random", "pulumi_tls",
                "pulumi_minio")
_REGISTER = re.compile(r'resource_(modules|packages)="""(.*?)"""', re.S)
# Types registered by bindings in this repository rather than by an installed SDK.
EXTRA_TYPES: dict[str, type] = {**incus_binding.RESOURCE_TYPES, **ca_crd.RESOURCE_TYPES,
                                 **monitoring_publish.RESOURCE_TYPES}


@functools.cache
def _tables() -> dict[str, tuple[str, str]]:
    """Type token -> (module, class name), read from each SDK's registration tables (no imports)."""
    found: dict[str, tuple[str, str]] = {}
    for package in SDK_PACKAGES:
        source = Path(importlib.util.find_spec(package).origin).read_text()
        for kind, payload in _REGISTER.findall(source):
            for entry in json.loads(payload):
                if kind == "modules":
                    found.update({token: (entry["fqn"], name) for token, name in entry["classes"].items()})
                else:
                    found[entry["token"]] = (entry["fqn"], entry["class"])
    return found


def resource_class(token: str) -> type | None:
    """The SDK class registered for a type token, importing only its module."""
    if token in EXTRA_TYPES:
        return EXTRA_TYPES[token]
    where = _tables().get(token)
    return getattr(importlib.import_module(where[0]), where[1]) if where else None


def args_class(resource_cls: type) -> type | None:
    if resource_cls is ca_crd.ClusterIssuer:
        return ca_crd.ClusterIssuerArgs
    module = sys.modules[resource_cls.__module__]
    # Most SDKs name it <Class>Args; pulumi-kubernetes names it <Class>InitArgs.
    return getattr(module, f"{resource_cls.__name__}Args", None) or getattr(module, f"{resource_cls.__name__}InitArgs", None)


def check(resources: list[dict[str, Any]]) -> list[str]:
    """One line per problem across all custom resources (with revealed inputs: names only are shown)."""
    problems: list[str] = []
    for res in resources:
        if not res["custom"] or res["type"].startswith("pulumi:pulumi:"):
            continue
        cls = resource_class(res["type"])
        args = args_class(cls) if cls else None
        if args is None:
            problems.append(f"{res['urn']}: no SDK input type known for {res['type']}")
            continue
        problems.extend(_check_object(res["inputs"], args, f"{res['type']} {res['name']}", top=True))
    return problems


def _required(cls: type) -> set[str]:
    names = _types.input_type_py_to_pulumi_names(cls)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # after self/__self__
    return {names.get(p.name, p.name) for p in params
            if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _check_object(value: Any, cls: type, path: str, top: bool = False) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)  # provider inputs arrive JSON-encoded
        except json.JSONDecodeError:
            return []
    if not isinstance(value, dict):
        return []
    names = _types.input_type_py_to_pulumi_names(cls)
    wire_types = _types.input_type_types(cls)  # keyed by wire name, Input/Optional unwrapped
    wire_to_py = {wire: py for py, wire in names.items()}
    problems = []
    for key in sorted(value):
        if top and key in ("__defaults",):
            continue
        if key not in wire_to_py:
            hint = difflib.get_close_matches(key, sorted(wire_to_py), n=1)
            problems.append(f"{path}.{key}: not a property of {cls.__name__}"
                            + (f"; did you mean {hint[0]!r}?" if hint else ""))
            continue
        problems.extend(_check_value(value[key], wire_types.get(key), f"{path}.{key}"))
    for key in sorted(_required(cls) - set(value)):
        problems.append(f"{path}.{key}: required property of {cls.__name__} is missing")
    return problems


def _check_value(value: Any, typ: Any, path: str) -> list[str]:
    if typ is None or value in (None, "[secret]", "[unknown]"):
        return []
    for candidate in _candidates(typ):
        origin = typing.get_origin(candidate)
        if isinstance(candidate, type) and _types.is_input_type(candidate) and isinstance(value, (dict, str)):
            if isinstance(value, str) and not value.startswith("{"):
                continue
            return _check_object(value, candidate, path)
        if origin in (list, collections.abc.Sequence) and isinstance(value, list):
            (item,) = typing.get_args(candidate) or (None,)
            return [p for index, element in enumerate(value) for p in _check_value(element, item, f"{path}[{index}]")]
        if origin in (dict, collections.abc.Mapping) and isinstance(value, dict):
            args = typing.get_args(candidate)
            item = args[1] if len(args) == 2 else None
            return [p for key, element in sorted(value.items()) for p in _check_value(element, item, f"{path}.{key}")]
    return []


def _candidates(typ: Any) -> list[Any]:
    """The concrete alternatives inside Optional/Input/Union/Awaitable/Output wrappers."""
    origin = typing.get_origin(typ)
    if origin is typing.Union:
        return [c for arg in typing.get_args(typ) for c in _candidates(arg)]
    if origin in (collections.abc.Awaitable, pulumi.Output) or typ is Any:
        return []
    if isinstance(typ, type) and issubclass(typ, pulumi.Output):
        return []
    return [typ]
