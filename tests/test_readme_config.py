"""The README's config and Ansible instructions work as written."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_the_ansible_command_runs_from_the_virtualenv(synth_result):
    lines = [line for block in re.findall(r"```sh\n(.*?)```", README, re.S)
             for line in block.splitlines() if "ansible-inventory" in line]
    assert lines, "README.md shows no ansible-inventory command"
    assert all(".venv/bin/ansible-inventory" in line for line in lines), lines
    command = lines[0].split("&&", 1)[1].strip()  # the synth before it: synth_result has run it
    outputs = synth_result("mirkwood").out / "outputs.json"
    command = command.replace("build/mirkwood/outputs.json", str(outputs))
    done = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "@env_mirkwood:" in done.stdout


def test_the_readme_points_at_the_generated_reference():
    assert "[docs/CONFIG.md](docs/CONFIG.md)" in README
    assert (ROOT / "docs" / "CONFIG.md").is_file()
