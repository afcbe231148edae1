"""One definition of which stacks are production (policy/stacks.yaml), used by the config loader and
by the policy pack alike: a stack without `production:` is judged the same by both, and a stack file
that disagrees with the definition is an error rather than a way to switch production's guards off."""

from __future__ import annotations

import copy

import pytest

from policy import rules
from policy.stacks import production_stacks
from stacks.config import loader
from synth.engine import synth_config
from tests.conftest import ENVIRONMENTS


def entries_without_production(env: str) -> tuple[dict, set]:
    entries, secret_keys, _ = synth_config(env)
    entries = copy.deepcopy(entries)
    entries["homelab:environment"].pop("production", None)
    return entries, secret_keys


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_loader_and_pack_agree_when_the_stack_file_says_nothing(env):
    entries, secret_keys = entries_without_production(env)
    cfg = loader.validate(entries, stack=env, secret_keys=secret_keys)
    assert cfg.environment.production is (env in production_stacks())
    assert cfg.environment.production is rules.environment(env).production
    assert cfg.environment.production is (env == "lothlorien")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_committed_stack_files_agree_with_the_definition(env):
    entries, secret_keys, _ = synth_config(env)
    said = entries["homelab:environment"].get("production")
    assert said in (None, rules.environment(env).production)


@pytest.mark.parametrize("env,said,what", [("lothlorien", False, "is"), ("mirkwood", True, "is not")])
def test_a_stack_file_that_contradicts_the_definition_is_refused(env, said, what):
    entries, secret_keys = entries_without_production(env)
    entries["homelab:environment"]["production"] = said
    with pytest.raises(loader.ConfigError) as error:
        loader.validate(entries, stack=env, secret_keys=secret_keys)
    assert (f"environment.production: stack {env!r} {what} a production stack in policy/stacks.yaml "
            f"(got {said!r}); leave `production` out or change policy/stacks.yaml") in error.value.lines


def test_peer_stacks_without_production_are_judged_by_the_definition(tmp_path):
    """The staging/production overlap check takes production peers from the same definition."""
    for env in ENVIRONMENTS:
        text = (loader.Path(__file__).resolve().parent.parent / f"Pulumi.{env}.yaml").read_text()
        (tmp_path / f"Pulumi.{env}.yaml").write_text(text.replace("    production: true\n", "").replace(
            "    production: false\n", ""))
    (peer,) = loader.peer_environments(tmp_path, "mirkwood")
    assert peer.environment.name == "lothlorien" and peer.environment.production is True
