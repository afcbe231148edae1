"""Shared fixtures: Pulumi mocks for component tests, and synth runs for whole-program tests."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest

from synth.engine import Recorded, RecordingMonitor
from synth.mocks import HomelabMocks

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("mirkwood", "lothlorien")

# Component tests register resources in-process; the recording monitor keeps what the engine
# would see (options such as protect, dependencies, inputs with secrets masked).
RECORDED = Recorded()
pulumi.runtime.set_mocks(HomelabMocks(), project="homelab", stack="test", preview=False,
                         monitor=RecordingMonitor(HomelabMocks(), RECORDED))


def registered(name_prefix: str = "", type_: str | None = None) -> list[dict[str, Any]]:
    """Resources registered in this process whose name starts with `name_prefix` (and of `type_`)."""
    return [r for r in RECORDED.resources
            if r["name"].startswith(name_prefix) and (type_ is None or r["type"] == type_)]


@dataclass
class SynthRun:
    """One `python -m synth` run in a subprocess, as a user would run it."""

    env: str
    out: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def resources(self) -> list[dict[str, Any]]:
        return json.loads((self.out / "resources.json").read_text())

    @property
    def outputs(self) -> dict[str, Any]:
        return json.loads((self.out / "outputs.json").read_text())

    @property
    def artifacts(self) -> dict[str, str]:
        base = self.out / "artifacts"
        return {str(p.relative_to(base)): p.read_text() for p in sorted(base.rglob("*")) if p.is_file()}

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_]


def run_synth(env: str, out: Path, secrets: dict[str, str] | None = None, stack_dir: Path | None = None) -> SynthRun:
    args = [sys.executable, "-m", "synth", "--env", env, "--out", str(out)]
    if stack_dir is not None:
        args += ["--stack-dir", str(stack_dir)]
    if secrets is not None:
        secrets_file = out.parent / f"{env}-secrets.json"
        secrets_file.parent.mkdir(parents=True, exist_ok=True)
        secrets_file.write_text(json.dumps(secrets))
        args += ["--secrets-file", str(secrets_file)]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return SynthRun(env, out / env, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def synth_result(tmp_path_factory):
    """synth_result(env) -> SynthRun of that environment, run once per test session."""
    cache: dict[str, SynthRun] = {}

    def get(env: str) -> SynthRun:
        if env not in cache:
            cache[env] = run_synth(env, tmp_path_factory.mktemp(f"synth-{env}"))
            assert cache[env].returncode == 0, cache[env].stderr + cache[env].stdout
        return cache[env]

    return get
