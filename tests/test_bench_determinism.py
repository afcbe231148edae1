"""Synth of the same config twice yields a byte-identical build/<env>/.

Each run is a fresh process with a different hash seed, so set or dict-order effects, timestamps
or random values in any input, output or artifact show up as a difference.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synth import bench
from tests.conftest import ENVIRONMENTS, ROOT


def _synth(env: str, out: Path, seed: str, stack_dir: Path = ROOT) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "synth", "--env", env, "--out", str(out), "--stack-dir", str(stack_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONHASHSEED": seed},
    )
    assert done.returncode == 0, done.stderr + done.stdout


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _differences(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    out = [f"only in the first run: {k}" for k in sorted(set(a) - set(b))]
    out += [f"only in the second run: {k}" for k in sorted(set(b) - set(a))]
    out += [f"differs: {k}" for k in sorted(set(a) & set(b)) if a[k] != b[k]]
    return out


def _twice(env: str, tmp_path: Path, stack_dir: Path = ROOT) -> tuple[dict[str, bytes], dict[str, bytes]]:
    out = tmp_path / "build"
    _synth(env, out, "1", stack_dir)
    first = _tree(out / env)
    shutil.copytree(out / env, tmp_path / "first")
    _synth(env, out, "2", stack_dir)  # the same place, as `make synth` twice would
    return first, _tree(out / env)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_synth_twice_is_byte_identical(env, tmp_path):
    first, second = _twice(env, tmp_path)
    assert "resources.json" in first and "outputs.json" in first
    assert _differences(first, second) == []
    assert not filecmp.dircmp(tmp_path / "first", tmp_path / "build" / env).diff_files


def test_generated_environment_synth_twice_is_byte_identical(tmp_path):
    stacks = tmp_path / "stacks"
    env = bench.write_stack(5, stacks)
    first, second = _twice(env, tmp_path, stacks)
    assert _differences(first, second) == []


def test_the_comparison_sees_a_changed_byte_and_a_missing_file():
    """The checks above can fail: a changed byte or a file of one run only is reported."""
    first = {"resources.json": b'[{"urn": "a"}]\n', "artifacts/x/user-data": b"#cloud-config\n"}
    second = {"resources.json": b'[{"urn": "b"}]\n', "outputs.json": b"{}\n"}
    assert _differences(first, second) == [
        "only in the first run: artifacts/x/user-data",
        "only in the second run: outputs.json",
        "differs: resources.json",
    ]
