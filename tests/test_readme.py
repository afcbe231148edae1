"""The README's tables that restate the code stay in step with it."""

from __future__ import annotations

import re

from stacks.config import loader
from stacks.config.model import needed_secrets
from synth import critical_path
from synth.engine import synth_config
from tests.conftest import ENVIRONMENTS, ROOT

README = (ROOT / "README.md").read_text()


def _between(marker: str) -> str:
    found = re.search(rf"<!-- {marker}:begin -->\n(.*?)<!-- {marker}:end -->", README, re.S)
    assert found, f"README.md has no {marker} block"
    return found.group(1)


def _secret_rows() -> dict[str, dict[str, str]]:
    rows = {}
    for line in _between("secrets").splitlines()[2:]:
        key, *levels, _what = [cell.strip() for cell in line.strip("|").split("|")]
        rows[key.strip("`")] = dict(zip(ENVIRONMENTS, levels))
    return rows


def test_secrets_table_lists_what_each_committed_environment_needs():
    expected: dict[str, dict[str, str]] = {}
    for env in ENVIRONMENTS:
        entries, secret_keys, _ = synth_config(env)
        cfg = loader.validate(entries, stack=env, secret_keys=secret_keys)
        for spec in needed_secrets(cfg):
            expected.setdefault(spec.key, dict.fromkeys(ENVIRONMENTS, "–"))[env] = (
                "required" if spec.required else "optional")
    for levels in expected.values():
        for env in ENVIRONMENTS:
            levels.setdefault(env, "–")
    assert _secret_rows() == expected


def test_readme_states_the_latency_models_defaults():
    kinds = critical_path.markdown_tables().split("\n\n")[0].strip()
    assert _between("latency").strip() == kinds
