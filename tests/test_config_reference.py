"""docs/CONFIG.md is generated from the models and current; every section's docstring example is
complete (every field of the section appears) and valid."""

from __future__ import annotations

import re
import sys

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter

from stacks.config import reference
from stacks.config.model import EnvironmentConfig

DOC = reference.OUTPUT
SECTIONS = [key for key, _, _ in reference.sections() if reference.models_of(EnvironmentConfig.model_fields[key].annotation)]


def _all_models(annotation) -> list[type[BaseModel]]:
    """An independent walk: every model class under `annotation`."""
    found, todo = [], [annotation]
    while todo:
        item = todo.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item not in found:
                found.append(item)
                todo.extend(field.annotation for field in item.model_fields.values())
        else:
            todo.extend(getattr(item, "__args__", ()) or ())
            todo.extend(getattr(item, "__metadata__", ()) and ())
    return found


def test_the_reference_is_current():
    assert DOC.read_text() == reference.render(), "docs/CONFIG.md is stale: run python -m stacks.config.reference"


def test_every_field_of_every_model_has_a_row():
    text = DOC.read_text()
    checked = 0
    for key, annotation, _ in reference.sections():
        assert f"## `homelab:{key}`" in text
        for model in _all_models(annotation):
            table = re.search(rf"### {model.__name__}\n.*?(?=\n#|\Z)", text, re.S)
            assert table, f"no table for {model.__name__}"
            for name, field in model.model_fields.items():
                assert f"| `{field.alias or name}` |" in table.group(0), f"{model.__name__}.{name} missing"
                checked += 1
    assert checked > 100


def test_constraints_and_defaults_are_shown():
    text = DOC.read_text()
    assert "| `cores` | integer | `2` | ≥ 1, ≤ 128 |" in text
    assert "| `vlan` | integer or null | `null` | ≥ 1, ≤ 4094 |" in text
    assert "refused: is not a k3s release tag such as v1.31.4+k3s1" in text
    assert "| `vm_id` | integer | *required* |" in text


def _example(key: str) -> dict:
    model = reference.models_of(EnvironmentConfig.model_fields[key].annotation)[0]
    doc = sys.modules[model.__module__].__doc__ or ""
    block = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert block, f"stacks/config/{model.__module__.rsplit('.', 1)[1]}.py: no ```yaml example in the docstring"
    return yaml.safe_load(block.group(1))


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.parametrize("key", SECTIONS)
def test_the_section_docstring_example_is_valid(key):
    example = _example(key)
    TypeAdapter(EnvironmentConfig.model_fields[key].annotation).validate_python(example[f"homelab:{key}"])


@pytest.mark.parametrize("key", SECTIONS)
def test_the_section_docstring_example_shows_every_field(key):
    example = _example(key)
    shown = _keys(example[f"homelab:{key}"])
    missing = sorted(f"{model.__name__}.{field.alias or name}"
                     for model in _all_models(EnvironmentConfig.model_fields[key].annotation)
                     for name, field in model.model_fields.items() if (field.alias or name) not in shown)
    assert missing == [], f"the example of homelab:{key} leaves out {missing}"


def test_the_reference_cli_check_mode(tmp_path):
    stale = tmp_path / "CONFIG.md"
    stale.write_text("old\n")
    assert reference.main(["--check", "--out", str(stale)]) == 1
    assert reference.main(["--out", str(stale)]) == 0
    assert reference.main(["--check", "--out", str(stale)]) == 0
