"""The synth's own leak gate: `python -m synth` fails (exit 1) and names every file, JSON or not,
in which a secret value appears in clear text. The canary test in test_program.py scans build/ by
itself; this one checks that the synth does, so a synth that stopped scanning or stopped failing
would be caught."""

from __future__ import annotations

import re

import pytest

from stacks.config import loader
from stacks.config.model import needed_secrets
from synth.engine import synth_config
from tests.conftest import run_synth

# A word every rendered remote script carries (`set -euo pipefail`), given as an MQTT password:
# the synth cannot mask it, so every script artifact holds "a secret" in clear text.
LEAKED = "pipefail"


@pytest.fixture(scope="module")
def leaked_run(tmp_path_factory):
    env = "mirkwood"
    entries, secret_keys, _ = synth_config(env)
    cfg = loader.validate(entries, stack=env, secret_keys=secret_keys)
    specs = needed_secrets(cfg)
    given = {spec.key: spec.dressed(f"canary-{spec.key}-51d2") for spec in specs}
    key = next(spec.key for spec in specs if spec.key.startswith("mqttPassword-"))
    given[key] = LEAKED
    return key, run_synth(env, tmp_path_factory.mktemp("leak") / "build", secrets=given)


def test_synth_exits_1_when_a_secret_value_appears_in_a_rendered_file(leaked_run):
    key, run = leaked_run
    assert run.returncode == 1, run.stdout + run.stderr
    assert "leaks" in run.stdout and "secrets: none unmasked" not in run.stdout


def test_the_leak_gate_names_non_json_artifacts_and_the_secret_key_not_its_value(leaked_run):
    key, run = leaked_run
    named = re.findall(r"error: (\S+): secret (\S+) appears unmasked", run.stderr)
    scripts = [path for path, secret in named if secret == key and path.startswith("artifacts/")
               and not path.endswith(".json")]
    assert scripts, f"no rendered script named among {named[:5]}"
    # Every artifact that holds the word is named: none is skipped.
    holding = sorted(str(p.relative_to(run.out)) for p in run.out.rglob("*")
                     if p.is_file() and LEAKED in p.read_text(errors="replace"))
    assert holding and sorted({path for path, secret in named if secret == key}) == holding
    # The message names the key; the value itself is not echoed next to it.
    assert all(LEAKED not in line for line in run.stderr.splitlines() if "appears unmasked" in line)
