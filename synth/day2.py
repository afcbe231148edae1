"""Plan an edit of a stack file in-process: the helper day-2 tests build on.

    result = plan_edit("lothlorien", lambda cfg: cfg["homelab:environment"]["timezone"] = ...)
    result.plan.ops()          # {urn: "update", ...}
    result.after.revealed      # the edited synth's inputs, to check the change reaches the guest

The committed config is synthed once per environment and secret values (cached); the edit gets the
stack file's `config:` mapping (full keys such as `homelab:proxmox`) to change in place, and
`secrets` (key -> value) replace the synth's placeholders on the edited side only (a rotation).
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import engine
from .plan import Plan, Side, plan

Edit = Callable[[dict[str, Any]], None]


@dataclass
class EditPlan:
    plan: Plan
    before: engine.SynthResult
    after: engine.SynthResult


_BASE: dict[tuple[str, str], engine.SynthResult] = {}


def base_secrets(env: str) -> dict[str, str]:
    """The placeholder secret values of the committed config (what a rotation changes)."""
    _entries, _keys, values = engine.synth_config(env)
    return values


def committed(env: str, secrets: dict[str, str] | None = None) -> engine.SynthResult:
    key = (env, json.dumps(secrets or {}, sort_keys=True))
    if key not in _BASE:
        _BASE[key] = engine.run(env, secrets)
    return _BASE[key]


def synth_document(env: str, document: dict[str, Any], secrets: dict[str, str] | None = None) -> engine.SynthResult:
    """Synth a stack document (the parsed Pulumi.<env>.yaml) from a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="homelab-day2-") as scratch:
        folder = Path(scratch)
        shutil.copy(engine.ROOT / "Pulumi.yaml", folder / "Pulumi.yaml")
        (folder / f"Pulumi.{env}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
        return engine.run(env, secrets, stack_dir=folder)


def plan_edit(env: str, edit: Edit | None = None, secrets: dict[str, str] | None = None) -> EditPlan:
    """Synth the committed `env`, apply `edit` to its config (and rotate `secrets`), synth, plan."""
    before = committed(env)
    document = yaml.safe_load((engine.ROOT / f"Pulumi.{env}.yaml").read_text())
    document = copy.deepcopy(document)
    if edit is not None:
        edit(document.setdefault("config", {}))
    given = {**base_secrets(env), **(secrets or {})} if secrets else None
    after = synth_document(env, document, given)
    return EditPlan(plan(Side.of(before), Side.of(after), env), before, after)
