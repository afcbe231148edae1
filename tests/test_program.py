"""The whole program, per environment, as `make synth` runs it."""

from __future__ import annotations

import pytest

from stacks import outputs
from stacks.config import loader
from stacks.config.model import needed_secrets
from synth.engine import synth_config
from tests.conftest import ENVIRONMENTS, run_synth


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_synth_writes_resources_outputs_and_summary(env, synth_result):
    run = synth_result(env)
    assert (run.out / "resources.json").is_file()
    assert run.outputs["contract_version"] == outputs.CONTRACT_VERSION == "2.2"
    assert run.outputs["environment"]["name"] == env
    assert f"homelab synth: {env} ->" in run.stdout
    assert "secrets: none unmasked" in run.stdout
    for res in run.resources:
        assert set(res) >= {"urn", "type", "name", "parent", "provider", "dependencies", "options", "inputs"}


def _secrets_below_the_top(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            if item == "[secret]":
                yield f"{path}.{key}"
            yield from _secrets_below_the_top(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secrets_below_the_top(item, f"{path}[{index}]")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_secret_is_nested_inside_an_output(env, synth_result):
    """pulumi/actions (v7 src/main.ts) registers a mask only for an output that is secret as a whole
    and gives every other output to the job, nested secrets in clear: a secret is a top-level output."""
    outputs = synth_result(env).outputs
    assert outputs["kubeconfig"] == "[secret]"
    assert [path for name, value in outputs.items() for path in _secrets_below_the_top(value, name)] == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_secret_canary_appears_anywhere_under_build(env, tmp_path):
    entries, secret_keys, _ = synth_config(env)
    cfg = loader.validate(entries, stack=env, secret_keys=secret_keys)
    canaries = {spec.key: f"CANARY-{spec.key}-7f3a9c" for spec in needed_secrets(cfg)}
    # A secret with a form (an API token) carries its canary where the secret part goes.
    given = {spec.key: spec.dressed(canaries[spec.key]) for spec in needed_secrets(cfg)}
    run = run_synth(env, tmp_path / "build", secrets=given)
    assert run.returncode == 0, run.stderr
    for path in sorted(p for p in run.out.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        for key, canary in canaries.items():
            assert canary not in text, f"{path.relative_to(run.out)} leaks {key}"
    assert "CANARY-" not in run.stdout + run.stderr


def test_lothlorien_is_protected_staging_is_not():
    for env, production in (("mirkwood", False), ("lothlorien", True)):
        entries, secret_keys, _ = synth_config(env)
        assert loader.validate(entries, stack=env, secret_keys=secret_keys).environment.production is production
