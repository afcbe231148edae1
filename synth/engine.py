"""Run the real program under Pulumi's mock engine and record everything it declares.

No Pulumi CLI, no credentials, no network: the stack's config comes from `Pulumi.<env>.yaml`,
every secret the config needs is replaced by a placeholder (or a value given by a test), and a
recording monitor keeps each registration with its parent, provider, dependencies, safety options
and inputs (secrets masked).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from stacks.config import loader, stackfile
from stacks.config.model import EnvironmentConfig, needed_secrets

from .mocks import HomelabMocks
from .wire import MASK, struct_to_plain

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "homelab"


@dataclass
class Recorded:
    resources: list[dict[str, Any]] = field(default_factory=list)
    revealed: dict[str, dict[str, Any]] = field(default_factory=dict)  # urn -> inputs with secrets shown
    # For the day-2 plan (synth/plan.py): what the provider computed (the id and every output that
    # is not an echoed input, secrets shown) and which resources each top-level input came from.
    computed: dict[str, dict[str, Any]] = field(default_factory=dict)
    property_dependencies: dict[str, dict[str, list[str]]] = field(default_factory=dict)


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps every registration as the engine would see it."""

    def __init__(self, mocks: pulumi.runtime.Mocks, recorded: Recorded) -> None:
        super().__init__(mocks)
        self.recorded = recorded

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self._record(request, response.urn, kind="register")
            if request.custom:
                self._record_computed(request, response)
        return response

    def _record_computed(self, request, response) -> None:
        inputs = struct_to_plain(request.object, reveal=True)
        state = struct_to_plain(response.object, reveal=True) if response.HasField("object") else {}
        computed = {key: value for key, value in state.items() if key not in inputs or inputs[key] != value}
        computed["id"] = response.id
        self.recorded.computed[response.urn] = computed
        self.recorded.property_dependencies[response.urn] = {
            key: sorted(set(deps.urns)) for key, deps in sorted(request.propertyDependencies.items()) if deps.urns}

    def ReadResource(self, request):  # noqa: N802
        response = super().ReadResource(request)
        self._record(request, response.urn, kind="read")
        return response

    def _record(self, request, urn: str, kind: str) -> None:
        is_register = kind == "register"
        struct = request.object if is_register else request.properties
        options = {}
        if is_register:
            options = {
                "protect": request.protect if request.HasField("protect") else False,
                "retain_on_delete": request.retainOnDelete if request.HasField("retainOnDelete") else False,
                "ignore_changes": sorted(request.ignoreChanges),
                "replace_on_changes": sorted(request.replaceOnChanges),
                "delete_before_replace": request.deleteBeforeReplace,
                "additional_secret_outputs": sorted(request.additionalSecretOutputs),
                "deleted_with": request.deletedWith or None,
                "replace_with": sorted(request.replace_with),
            }
        self.recorded.resources.append({
            "urn": urn,
            "type": request.type,
            "name": request.name,
            "kind": kind,
            "custom": bool(request.custom) if is_register else True,
            "parent": request.parent or None,
            "provider": request.provider.rsplit("::", 1)[0] if request.provider else None,  # drop "::<id>"
            "dependencies": sorted(set(request.dependencies)),
            "options": options,
            "inputs": struct_to_plain(struct),
        })
        self.recorded.revealed[urn] = struct_to_plain(struct, reveal=True)


@dataclass
class SynthResult:
    env: str
    cfg: EnvironmentConfig
    resources: list[dict[str, Any]]
    revealed: dict[str, dict[str, Any]]
    outputs: dict[str, Any]
    secret_values: dict[str, str]
    computed: dict[str, dict[str, Any]] = field(default_factory=dict)
    property_dependencies: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def stack_entries(env: str, stack_dir: Path = ROOT) -> tuple[dict[str, Any], set[str]]:
    """The stack file's config entries (full keys) and which of them are secure values.

    Raises loader.ConfigError (FILE:LINE:COLUMN) for a file that is not a YAML mapping or repeats a key."""
    path = stack_dir / f"Pulumi.{env}.yaml"
    if not path.exists():
        raise loader.ConfigError([f"Pulumi.{env}.yaml: no such stack file (environments: "
                                  f"{', '.join(sorted(p.name[7:-5] for p in stack_dir.glob('Pulumi.*.yaml')))})"])
    stack = stackfile.read(path)
    return stack.entries, stack.secure


def synth_config(env: str, secret_values: dict[str, str] | None = None, stack_dir: Path = ROOT, *,
                 placeholders: bool = True, secrets_source: str = "the secrets file",
                 ) -> tuple[dict[str, Any], set[str], dict[str, str]]:
    """Config for a mocked run: the stack file as written, each secret it needs from `secret_values`
    or (with `placeholders`) a stand-in.

    Only keys the file leaves unset or holds as `secure:` get a value: a credential written in plain
    text stays plain, so the loader refuses it as `pulumi up` would. Without `placeholders`, a needed
    secret missing from `secret_values` is a ConfigError naming the missing keys."""
    entries, secure = stack_entries(env, stack_dir)
    kept = loader.parsed(entries)
    given = dict(secret_values or {})
    values: dict[str, str] = {}
    specs = {spec.key: spec for spec in needed_secrets(kept.cfg)} if kept else {}
    keys = {key for key in specs if f"{PROJECT}:{key}" not in entries or f"{PROJECT}:{key}" in secure}
    keys |= {k.split(":", 1)[1] for k in secure}
    missing = sorted(key for key in keys if key in specs and specs[key].required and key not in given)
    if missing and not placeholders:
        raise loader.ConfigError([f"{secrets_source}: lacks the secret {key} ({specs[key].description}); "
                                  "add it, or ask for stand-ins with --placeholders" for key in missing])
    for key in sorted(keys):
        placeholder = f"synth-placeholder-{key}"
        values[key] = given.get(key, specs[key].dressed(placeholder) if key in specs else placeholder)
        entries[f"{PROJECT}:{key}"] = values[key]
    secret_keys = {f"{PROJECT}:{key}" for key in values}
    return entries, secret_keys, values


def run(env: str, secret_values: dict[str, str] | None = None, stack_dir: Path = ROOT, *,
        placeholders: bool = True, secrets_source: str = "the secrets file") -> SynthResult:
    """Run the project's `__main__.py` under mocks; raise loader.ConfigError on invalid config."""
    root = ROOT
    entries, secret_keys, values = synth_config(env, secret_values, stack_dir, placeholders=placeholders,
                                                secrets_source=secrets_source)
    config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in entries.items()}
    recorded = Recorded()
    pulumi.runtime.set_all_config(config, list(secret_keys))
    pulumi.runtime.set_mocks(HomelabMocks(), project=PROJECT, stack=env, preview=False,
                             monitor=RecordingMonitor(HomelabMocks(), recorded))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    cwd = os.getcwd()
    previous = os.environ.get(loader.STACK_DIR_VARIABLE)
    os.environ[loader.STACK_DIR_VARIABLE] = str(Path(stack_dir).resolve())
    os.chdir(root)
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(root / "__main__.py"), run_name="__main__")))
        outputs = _resolve_outputs()
    finally:
        os.chdir(cwd)
        if previous is None:
            os.environ.pop(loader.STACK_DIR_VARIABLE, None)
        else:
            os.environ[loader.STACK_DIR_VARIABLE] = previous
    cfg = loader.validate(entries, stack=env, secret_keys=secret_keys)
    resources = sorted(recorded.resources, key=lambda r: r["urn"])
    return SynthResult(env, cfg, resources, recorded.revealed, outputs, values,
                       recorded.computed, recorded.property_dependencies)


def _resolve_outputs() -> dict[str, Any]:
    stack = pulumi.runtime.get_root_resource()
    return _resolve(dict(stack.outputs)) if stack else {}


def _resolve(value: Any) -> Any:
    """Resolve exported values leaf by leaf, masking each secret leaf.

    Level by level: every Output found at one depth is awaited together (one turn of the event
    loop for all of them, not two per leaf), then what they resolve to is searched the same way."""
    pending: list[tuple[Any, Any, pulumi.Output]] = []  # (container, key, output)

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            copy = {}
            for k, v in sorted(item.items(), key=lambda kv: str(kv[0])):
                copy[str(k)] = walk(v)
                if isinstance(v, pulumi.Output):
                    pending.append((copy, str(k), v))
            return copy
        if isinstance(item, (list, tuple)):
            copy_list = [walk(v) for v in item]
            pending.extend((copy_list, i, v) for i, v in enumerate(item) if isinstance(v, pulumi.Output))
            return copy_list
        return item

    root = {"": value}
    result = walk(root)
    while pending:
        batch, pending = pending, []

        async def settle(outputs: list[pulumi.Output]) -> list[tuple[bool, Any]]:
            return [(await o.is_secret(), await o.future()) for o in outputs]

        for (container, key, _), (secret, resolved) in zip(batch, _sync_await(settle([b[2] for b in batch]))):
            # A secret leaf is masked whole; anything else may hold more Outputs, searched next round.
            container[key] = MASK if secret else walk(resolved)
            if not secret and isinstance(resolved, pulumi.Output):
                pending.append((container, key, resolved))
    return result[""]
