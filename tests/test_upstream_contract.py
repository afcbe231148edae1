"""The production monitoring layer reads staging's outputs through a StackReference and refuses an
upstream whose contract has another major version: tested through the program (the synth of
lothlorien), with the StackReference answering from a fixture that exports contract_version 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

RUN = """
import sys
from pathlib import Path
import synth.mocks
synth.mocks.STACK_FIXTURES = Path(sys.argv[1])
from synth.__main__ import main
sys.exit(main(["--env", "lothlorien", "--out", sys.argv[2]]))
"""


def synth_lothlorien_against(upstream: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    fixtures = tmp_path / "stacks"
    fixtures.mkdir()
    (fixtures / "mirkwood.json").write_text(json.dumps(upstream))
    return subprocess.run([sys.executable, "-c", RUN, str(fixtures), str(tmp_path / "build")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def mirkwood_outputs() -> dict:
    return json.loads((ROOT / "synth" / "fixtures" / "stacks" / "mirkwood.json").read_text())


def test_an_upstream_with_another_contract_major_stops_the_program(tmp_path):
    upstream = mirkwood_outputs()
    major = int(str(upstream["contract_version"]).split(".")[0])
    upstream["contract_version"] = f"{major + 1}.0"
    done = synth_lothlorien_against(upstream, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (f"the program failed: upstream organization/homelab/mirkwood exports contract_version {major + 1}.0"
            in done.stderr), done.stderr
    assert "Traceback" not in done.stderr


def test_the_same_major_with_a_newer_minor_is_read(tmp_path):
    upstream = mirkwood_outputs()
    major = str(upstream["contract_version"]).split(".")[0]
    upstream["contract_version"] = f"{major}.99"
    done = synth_lothlorien_against(upstream, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
