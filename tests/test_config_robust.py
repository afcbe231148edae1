"""Every bad stack file gets an answer: mutate each value of the committed stack files into the
wrong kind and the loader either accepts it or raises ConfigError, never anything else."""

from __future__ import annotations

import copy

import pytest

from stacks.config import loader
from synth.engine import synth_config
from tests.conftest import ENVIRONMENTS

WRONG = (True, 7, "x y", [], {"unexpected": 1}, None, -1, "10.0.0.1/8")


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key in value:
            yield from _paths(value[key], (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _set(data, path, value):
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_wrong_value_is_a_config_error_or_accepted(env):
    entries, secret_keys, _ = synth_config(env)
    sections = {key: value for key, value in entries.items() if isinstance(value, (dict, list))}
    tried = 0
    crashes = []
    for key, section in sections.items():
        for path in _paths(section):
            for wrong in WRONG:
                mutated = copy.deepcopy(entries)
                if path:
                    _set(mutated[key], path, copy.deepcopy(wrong))
                else:
                    mutated[key] = copy.deepcopy(wrong)  # the section itself
                tried += 1
                try:
                    loader.validate(mutated, stack=env, secret_keys=secret_keys)
                except loader.ConfigError as error:
                    assert error.lines and all(isinstance(line, str) and line for line in error.lines)
                except Exception as error:  # noqa: BLE001 - the point of the test
                    crashes.append(f"{key}{list(path)} = {wrong!r}: {type(error).__name__}: {error}")
    assert tried > 500
    assert crashes == []
