"""The GitHub workflows: they parse, pin every action, call only what exists, and keep the guarantees
the README promises (forks still get tests and synth, policies on every preview and up, production
behind an approval)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path}: not a mapping"
    if True in document:  # YAML 1.1 reads the key `on` as true
        document["on"] = document.pop(True)
    return document


def steps_of(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, step) for every step of every job (or of a composite action)."""
    document = load(path)
    if "runs" in document:
        return [(f"{path.name}:{i}", step) for i, step in enumerate(document["runs"]["steps"])]
    return [(f"{path.name}:{job}:{i}", step)
            for job, spec in document["jobs"].items() for i, step in enumerate(spec.get("steps", []))]


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {m.group(1) for m in re.finditer(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M)}


def make_calls(run: str) -> list[str]:
    """The make targets a `run:` script asks for (options and variables such as ENV=... left out)."""
    run = re.sub(r"\$\{\{.*?\}\}", "EXPR", run)
    targets = []
    for line in run.splitlines():
        for command in re.split(r"&&|\|\||;|\|", line):
            words = command.split()
            if words[:1] == ["make"]:
                targets += [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    return targets


def test_there_are_workflows_for_pull_requests_and_deploys():
    names = {p.name for p in WORKFLOWS}
    assert {"pull-request.yml", "deploy.yml"} <= names, names
    assert [p.parent.name for p in ACTIONS] == ["pulumi-stack"]


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_workflow_parses_and_every_action_is_pinned(path):
    steps = steps_of(path)
    assert steps, f"{path}: no steps"
    for where, step in steps:
        uses = step.get("uses")
        if uses is None:
            assert "run" in step, f"{where}: a step needs `uses` or `run`"
            continue
        if uses.startswith("./"):
            assert (ROOT / uses / "action.yml").is_file(), f"{where}: local action {uses} does not exist"
            continue
        assert PINNED.match(uses), f"{where}: {uses} is not pinned to a version tag or commit"


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_make_target_and_script_called_exists(path):
    targets = make_targets()
    for where, step in steps_of(path):
        run = step.get("run", "")
        for target in make_calls(run):
            assert target in targets, f"{where}: `make {target}` is not a Makefile target ({sorted(targets)})"
        for script in re.findall(r"(\.(?:github|ci)/[\w./-]+)", run):
            assert (ROOT / script).is_file(), f"{where}: {script} does not exist"


def test_make_call_parser_reads_targets_and_skips_variables():
    assert make_calls("make venv policy-venv") == ["venv", "policy-venv"]
    assert make_calls("make synth ENV=${{ matrix.stack }}") == ["synth"]
    assert make_calls("echo hi && make test\nmake policy ENV=lothlorien") == ["test", "policy"]
    assert make_calls("python3 -m synth") == []


def test_pulumi_runs_with_the_policy_pack_and_a_pinned_major():
    operations = [(where, step) for path in WORKFLOWS + ACTIONS for where, step in steps_of(path)
                  if str(step.get("uses", "")).startswith("pulumi/actions@")]
    assert operations
    for where, step in operations:
        assert step["uses"] == "pulumi/actions@v7", where
        if "command" in step.get("with", {}):
            assert step["with"]["policyPacks"] == "policy", f"{where}: runs pulumi without --policy-pack policy"
            assert step["with"]["cloud-url"] == "${{ env.PULUMI_BACKEND_URL }}", where
    assert (ROOT / "policy" / "PulumiPolicy.yaml").is_file()


def _jobs(name: str) -> dict[str, Any]:
    return load(ROOT / ".github" / "workflows" / name)["jobs"]


def _uses_secrets(job: dict[str, Any]) -> bool:
    return "secrets." in yaml.safe_dump(job) or "secrets[" in yaml.safe_dump(job)


def test_pull_request_tests_and_synths_both_environments_without_secrets():
    document = load(ROOT / ".github" / "workflows" / "pull-request.yml")
    assert "pull_request" in document["on"]
    jobs = document["jobs"]
    runs = {job: "\n".join(s.get("run", "") for s in spec["steps"]) for job, spec in jobs.items()}
    assert "make test" in runs["test"]
    assert jobs["synth"]["strategy"]["matrix"]["stack"] == ["mirkwood", "lothlorien"]
    assert "make synth ENV=${{ matrix.stack }}" in runs["synth"]
    uploads = [s for s in jobs["synth"]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert uploads and uploads[0]["with"]["path"].startswith("build/")
    for job in ("test", "synth"):  # what a fork's pull request still gets
        assert not _uses_secrets(jobs[job]), f"{job} needs secrets: a fork's pull request could not run it"
        assert "if" not in jobs[job]
    setup = [s for s in jobs["test"]["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert setup[0]["with"]["python-version"] == "3.11"


# Production's credentials: the secrets a lothlorien preview or up needs. They exist only as secrets
# of the `lothlorien` GitHub environment (README.md, "Delivery pipeline").
PRODUCTION_SECRETS = {
    "PULUMI_CONFIG_PASSPHRASE_LOTHLORIEN",
    "STACK_SECRETS_LOTHLORIEN",
    "PULUMI_BACKEND_ACCESS_KEY_ID_LOTHLORIEN",
    "PULUMI_BACKEND_SECRET_ACCESS_KEY_LOTHLORIEN",
}
PULL_REQUEST_EVENTS = {"pull_request", "pull_request_target"}
SECRET_NAME = re.compile(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)")
# Ways to reach a secret whose name the file does not spell out.
DYNAMIC_SECRETS = re.compile(r"\bsecrets\s*\[|toJSON\(\s*secrets\s*\)|secrets:\s*inherit|\bsecrets\s*\}\}")


def secret_names(node: Any) -> set[str]:
    """Every `secrets.NAME` an object of a workflow names; fails on a secret reached by a computed name."""
    text = yaml.safe_dump(node)
    assert not DYNAMIC_SECRETS.search(text), f"a secret reached by a computed name or inherited: {text[:200]}"
    return set(SECRET_NAME.findall(text))


def environment_of(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def is_production(name: str) -> bool:
    return "LOTHLORIEN" in name.upper()


def triggers(document: dict[str, Any]) -> set[str]:
    on = document["on"]
    return {on} if isinstance(on, str) else set(on)


def test_secret_name_scanner_finds_names_and_refuses_computed_ones():
    assert secret_names({"env": {"A": "${{ secrets.STACK_SECRETS_LOTHLORIEN }}"}}) == {"STACK_SECRETS_LOTHLORIEN"}
    for computed in ("${{ secrets[matrix.secrets] }}", "${{ toJSON(secrets) }}", "${{ secrets }}"):
        with pytest.raises(AssertionError, match="computed name"):
            secret_names({"env": {"A": computed}})
    with pytest.raises(AssertionError, match="computed name"):
        secret_names({"secrets": "inherit"})


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_pull_request_job_can_reach_a_production_secret(path):
    document = load(path)
    assert not secret_names(document.get("env", {})), f"{path.name}: workflow-level env hands secrets to every job"
    if not triggers(document) & PULL_REQUEST_EVENTS:
        return
    for name, job in document["jobs"].items():
        reached = {secret for secret in secret_names(job) if is_production(secret)}
        assert not reached, f"{path.name}:{name} runs on pull requests with production secrets {sorted(reached)}"
        assert environment_of(job) != "lothlorien", f"{path.name}:{name}: a pull request job in production's environment"
        for step in job.get("steps", []):
            if step.get("uses") == "./.github/actions/pulumi-stack":
                assert step["with"]["stack"] == "mirkwood", f"{path.name}:{name}: pull requests preview mirkwood only"


def test_the_pulumi_stack_action_names_no_secret():
    """Composite actions run inside pull-request jobs: the secrets they see are the calling job's only."""
    assert ACTIONS
    for path in ACTIONS:
        expressions = " ".join(re.findall(r"\$\{\{(.*?)\}\}", path.read_text(), re.S))
        assert not re.search(r"\bsecrets\b", expressions), f"{path}: an expression reads secrets"


def test_each_production_secret_appears_only_under_the_lothlorien_environment():
    seen: set[str] = set()
    for path in WORKFLOWS:
        document = load(path)
        for name, job in document["jobs"].items():
            production = {secret for secret in secret_names(job) if is_production(secret)}
            if not production:
                continue
            where = f"{path.name}:{name}"
            assert environment_of(job) == "lothlorien", f"{where} names {sorted(production)} outside the lothlorien environment"
            assert not triggers(document) & PULL_REQUEST_EVENTS, where
            assert job["if"] == "github.ref == 'refs/heads/main'", f"{where}: production from main only"
            staging = {secret for secret in secret_names(job) if "MIRKWOOD" in secret}
            assert not staging, f"{where}: production's job holds staging's credentials {sorted(staging)}"
            seen |= production
    assert seen == PRODUCTION_SECRETS, f"production secrets referenced: {sorted(seen)}"


def test_pull_request_previews_mirkwood_only_commenting_and_skips_forks():
    preview = _jobs("pull-request.yml")["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert set(preview["needs"]) == {"test", "synth"}
    assert "strategy" not in preview, "one stack: mirkwood"
    assert preview["permissions"]["pull-requests"] == "write"
    step = next(s for s in preview["steps"] if s.get("uses") == "./.github/actions/pulumi-stack")
    assert step["with"] == {"command": "preview", "stack": "mirkwood", "comment-on-pr": "true"}
    assert "environment" not in preview
    assert secret_names(preview) == {
        "PULUMI_BACKEND_URL", "PULUMI_BACKEND_ACCESS_KEY_ID_MIRKWOOD", "PULUMI_BACKEND_SECRET_ACCESS_KEY_MIRKWOOD",
        "PULUMI_CONFIG_PASSPHRASE_MIRKWOOD", "STACK_SECRETS_MIRKWOOD"}


def test_deploy_ups_staging_then_production_behind_its_environment():
    document = load(ROOT / ".github" / "workflows" / "deploy.yml")
    assert triggers(document) == {"push", "workflow_dispatch"}
    assert document["on"]["push"]["branches"] == ["main"]
    assert document["concurrency"]["cancel-in-progress"] is False
    jobs = document["jobs"]
    assert set(jobs) == {"verify", "up-mirkwood", "up-lothlorien"}
    assert not secret_names(jobs["verify"]), "verify runs the tests: no credentials"
    mirkwood, lothlorien = jobs["up-mirkwood"], jobs["up-lothlorien"]
    assert mirkwood["needs"] == "verify" and lothlorien["needs"] == "up-mirkwood"
    assert environment_of(mirkwood) == "mirkwood" and environment_of(lothlorien) == "lothlorien"
    for job in (mirkwood, lothlorien):
        assert job["if"] == "github.ref == 'refs/heads/main'"  # a manual run from a branch deploys nothing
    operations = lambda job: [s["with"] for s in job["steps"] if s.get("uses") == "./.github/actions/pulumi-stack"]
    assert operations(mirkwood) == [{"command": "up", "stack": "mirkwood"}]
    # Production's preview runs inside the approved job, before its up.
    assert [(o["command"], o["stack"]) for o in operations(lothlorien)] == [("preview", "lothlorien"), ("up", "lothlorien")]
    assert lothlorien["env"]["STACK_SECRETS"] == "${{ secrets.STACK_SECRETS_LOTHLORIEN }}"
    assert lothlorien["env"]["AWS_ACCESS_KEY_ID"] == "${{ secrets.PULUMI_BACKEND_ACCESS_KEY_ID_LOTHLORIEN }}"


def test_stack_secrets_go_through_stdin_masked_and_checked():
    sys.path.insert(0, str(ROOT / ".github" / "scripts"))
    try:
        import stack_secrets
    finally:
        sys.path.pop(0)
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    secrets = {"proxmoxApiToken": "root@pam!ci=5f0c", "sshPrivateKey": key, "mqttPassword-telegraf": "s3cret"}
    assert stack_secrets.parse(json.dumps(secrets)) == secrets
    calls = stack_secrets.plan("mirkwood", secrets)
    assert [c.argv for c in calls] == [
        ("pulumi", "config", "set", "--secret", "--stack", "mirkwood", "mqttPassword-telegraf"),
        ("pulumi", "config", "set", "--secret", "--stack", "mirkwood", "proxmoxApiToken"),
        ("pulumi", "config", "set", "--secret", "--stack", "mirkwood", "sshPrivateKey"),
    ]
    assert [c.stdin for c in calls] == ["s3cret", "root@pam!ci=5f0c", key]
    for call in calls:
        assert not any(value in " ".join(call.argv) for value in secrets.values())
    masked = stack_secrets.masks(secrets)
    assert "::add-mask::b3BlbnNzaC1rZXktdjEAAAAA" in masked
    assert "::add-mask::s3cret" in masked and all("\n" not in line for line in masked)
    with pytest.raises(ValueError, match=r"'bad key': not a camelCase config key; sshKey: value must be"):
        stack_secrets.parse('{"bad key": "x", "sshKey": ""}')
    with pytest.raises(ValueError) as error:
        stack_secrets.parse('{"linodeToken": "tok-123", ')
    assert "tok-123" not in str(error.value)


def test_stack_secrets_script_refuses_missing_secrets_without_running_pulumi(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / ".github" / "scripts" / "stack_secrets.py"), "--stack", "mirkwood"],
                          env={"PATH": str(tmp_path)}, capture_output=True, text=True)
    assert done.returncode == 2
    assert "STACK_SECRETS is empty" in done.stderr


def test_policy_pack_uses_its_own_pinned_virtualenv():
    project = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    venv = os.path.normpath(ROOT / "policy" / project["runtime"]["options"]["virtualenv"])
    assert venv == str(ROOT / ".venv-policy")
    assert re.search(r"^POLICY_VENV := \.venv-policy$", (ROOT / "Makefile").read_text(), re.M)
    requirements = [line.strip() for line in (ROOT / "policy" / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    assert requirements and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", r) for r in requirements), requirements
    assert any(r.startswith("pulumi-policy==") for r in requirements)
