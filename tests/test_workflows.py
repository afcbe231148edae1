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
# Every action by full commit SHA, its release in a comment: `uses: owner/repo@<40 hex> # vX.Y.Z`.
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<uses>\S+)(?:\s+#\s*(?P<comment>.*))?$", re.M)
PINNED = re.compile(r"^(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)@(?P<sha>[0-9a-f]{40})$")
# The releases pinned, each checked against the action's own repository (fetched, `git rev-parse
# <tag>^{commit}`) and its action.yml at that commit declaring `using: node24` (node20 actions are
# deprecated on GitHub's runners). Bumping an action means adding its verified row here.
KNOWN_RELEASES = {
    ("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1"): "v7.0.1",
    ("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97"): "v7.0.0",
    ("actions/upload-artifact", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f"): "v7.0.0",
    ("pulumi/actions", "8e5e406f4007fca908480587cb9893c07090f58d"): "v7.0.0",
}


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
            # wrappers before make: sudo, env, their options and VAR=value words
            while words and (words[0] in ("sudo", "env") or words[0].startswith("-") or "=" in words[0]):
                words = words[1:]
            if words[:1] == ["make"]:
                targets += [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    return targets


def test_there_are_workflows_for_pull_requests_and_deploys():
    names = {p.name for p in WORKFLOWS}
    assert {"pull-request.yml", "deploy.yml"} <= names, names
    assert [p.parent.name for p in ACTIONS] == ["pulumi-stack"]


def pin_problems(text: str) -> list[str]:
    """Every `uses:` line of a workflow or action that is not a known release pinned by SHA."""
    problems = []
    for line in USES_LINE.finditer(text):
        uses, comment = line["uses"], (line["comment"] or "").strip()
        if uses.startswith("./"):
            continue
        pinned = PINNED.match(uses)
        if not pinned:
            problems.append(f"{uses}: not pinned by full commit SHA")
            continue
        release = KNOWN_RELEASES.get((pinned["repo"], pinned["sha"]))
        if release is None:
            problems.append(f"{uses}: not a release checked into KNOWN_RELEASES")
        elif comment != release:
            problems.append(f"{uses}: comment {comment!r} should name its release {release}")
    return problems


def test_pin_checker_refuses_tags_unknown_shas_and_wrong_comments():
    assert pin_problems("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n") == []
    assert pin_problems("      - uses: ./.github/actions/pulumi-stack\n") == []
    assert pin_problems("      - uses: actions/checkout@v4\n") == ["actions/checkout@v4: not pinned by full commit SHA"]
    assert "not a release checked" in pin_problems("    uses: actions/checkout@" + "a" * 40 + " # v7.0.1")[0]
    assert "should name its release v7.0.1" in pin_problems(
        "uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v6")[0]
    assert "should name" in pin_problems("uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1")[0]


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_workflow_parses_and_every_action_is_pinned(path):
    steps = steps_of(path)
    assert steps, f"{path}: no steps"
    for where, step in steps:
        uses = step.get("uses")
        if uses is None:
            assert "run" in step, f"{where}: a step needs `uses` or `run`"
        elif uses.startswith("./"):
            assert (ROOT / uses / "action.yml").is_file(), f"{where}: local action {uses} does not exist"
    text = path.read_text()
    assert len(USES_LINE.findall(text)) == sum(1 for _, step in steps if "uses" in step), "a `uses:` line the pin check missed"
    assert pin_problems(text) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_do_not_persist_the_token(path):
    checkouts = [(where, step) for where, step in steps_of(path) if str(step.get("uses", "")).startswith("actions/checkout@")]
    assert checkouts
    for where, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, f"{where}: persist-credentials: false"


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_workflows_match_the_github_schema(path):
    """check-jsonschema's vendored SchemaStore schemas for workflows and actions (test extras, pinned)."""
    require_check_jsonschema()
    schema = "vendor.github-actions" if path.name == "action.yml" else "vendor.github-workflows"
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def require_check_jsonschema() -> None:
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("check-jsonschema is not installed (pyproject test extras); CI must run every real check")
        pytest.skip("check-jsonschema is not installed (make venv)")


def test_schema_check_refuses_a_broken_workflow(tmp_path):
    require_check_jsonschema()
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(broken)], capture_output=True, text=True)
    assert done.returncode != 0


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_make_target_and_script_called_exists(path):
    targets = make_targets()
    for where, step in steps_of(path):
        run = step.get("run", "")
        for target in make_calls(run):
            assert target in targets, f"{where}: `make {target}` is not a Makefile target ({sorted(targets)})"
        for script in re.findall(r"(\.(?:github|ci)/[\w./-]+)", run):
            assert (ROOT / script).is_file(), f"{where}: {script} does not exist"


def test_the_per_file_checks_find_what_they_check():
    """The checks above run per file and may rightly find nothing in one file; across the pipeline
    they must find the pull-request workflow, the stack it previews, the make targets and scripts."""
    steps = [step for path in WORKFLOWS + ACTIONS for _, step in steps_of(path)]
    pull_requests = [path for path in WORKFLOWS if triggers(load(path)) & PULL_REQUEST_EVENTS]
    assert [p.name for p in pull_requests] == ["pull-request.yml"]
    assert [step for path in pull_requests for _, step in steps_of(path)
            if step.get("uses") == "./.github/actions/pulumi-stack"], "no stack prepared on pull requests"
    assert {"test", "synth", "plan"} <= {t for step in steps for t in make_calls(step.get("run", ""))}
    assert [s for step in steps for s in re.findall(r"(\.(?:github|ci)/[\w./-]+)", step.get("run", ""))]
    assert [step for path in WORKFLOWS for _, step in steps_of(path) if secret_names(step)], "no step gets a secret"


def test_make_call_parser_reads_targets_and_skips_variables():
    assert make_calls("make venv policy-venv") == ["venv", "policy-venv"]
    assert make_calls("make synth ENV=${{ matrix.stack }}") == ["synth"]
    assert make_calls("echo hi && make test\nmake policy ENV=lothlorien") == ["test", "policy"]
    assert make_calls("python3 -m synth") == []
    assert make_calls('sudo --preserve-env=CI env "PATH=$PATH" make test') == ["test"]
    assert make_calls("echo make nothing") == []


def pulumi_operations(path: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(where, step) for where, step in steps_of(path)
            if str(step.get("uses", "")).startswith("pulumi/actions@") and "command" in step.get("with", {})]


def test_pulumi_runs_with_the_policy_pack_and_prints_no_outputs():
    operations = [op for path in WORKFLOWS + ACTIONS for op in pulumi_operations(path)]
    assert len(operations) == 4  # preview mirkwood (PR), up mirkwood, preview and up lothlorien
    for where, step in operations:
        assert step["with"]["policyPacks"] == "policy", f"{where}: runs pulumi without --policy-pack policy"
        assert step["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}", where
        # pulumi/actions v7 src/main.ts calls core.setSecret only on top-level secret outputs and
        # sets every output: suppress the display of outputs altogether.
        assert step["with"]["suppress-outputs"] == "true", where
        assert step["with"]["refresh"] == "false" and step["with"]["upsert"] == "false", where
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
    "INCUS_CLIENT_CERTIFICATE_LOTHLORIEN",  # a client certificate Incus already trusts (not a token)
    "INCUS_CLIENT_KEY_LOTHLORIEN",
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
        assert not re.search(r"(?<![\w-])secrets\s*[.\[]", expressions), f"{path}: an expression reads secrets"


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


STATE_SECRETS = {"PULUMI_BACKEND_ACCESS_KEY_ID_{}", "PULUMI_BACKEND_SECRET_ACCESS_KEY_{}"}


def operation(step: dict[str, Any]) -> tuple[str, str, str | None]:
    return step["with"]["command"], step["with"]["stack-name"], step["with"].get("plan")


def test_pull_request_previews_mirkwood_only_commenting_and_skips_forks():
    preview = _jobs("pull-request.yml")["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert set(preview["needs"]) == {"test", "synth"}
    assert "strategy" not in preview, "one stack: mirkwood"
    assert preview["permissions"]["pull-requests"] == "write"
    assert preview["runs-on"] == ["self-hosted", "homelab-mirkwood"]
    ops = [s for s in preview["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@") and "with" in s and "command" in s["with"]]
    assert [operation(s) for s in ops] == [("preview", "mirkwood", None)]
    assert ops[0]["with"]["comment-on-pr"] == "true"
    assert "environment" not in preview
    assert secret_names(preview) == {
        "PULUMI_BACKEND_URL", "PULUMI_BACKEND_ACCESS_KEY_ID_MIRKWOOD", "PULUMI_BACKEND_SECRET_ACCESS_KEY_MIRKWOOD",
        "PULUMI_CONFIG_PASSPHRASE_MIRKWOOD", "STACK_SECRETS_MIRKWOOD"}


def test_deploy_ups_staging_then_production_behind_its_environment():
    document = load(ROOT / ".github" / "workflows" / "deploy.yml")
    assert triggers(document) == {"push", "workflow_dispatch"}
    assert document["on"]["push"]["branches"] == ["main"]
    jobs = document["jobs"]
    assert set(jobs) == {"verify", "up-mirkwood", "up-lothlorien"}
    assert not secret_names(jobs["verify"]), "verify runs the tests: no credentials"
    mirkwood, lothlorien = jobs["up-mirkwood"], jobs["up-lothlorien"]
    assert mirkwood["needs"] == "verify" and lothlorien["needs"] == "up-mirkwood"
    assert environment_of(mirkwood) == "mirkwood" and environment_of(lothlorien) == "lothlorien"
    for job in (mirkwood, lothlorien):
        assert job["if"] == "github.ref == 'refs/heads/main'"  # a manual run from a branch deploys nothing
    ops = lambda job: [operation(s) for s in job["steps"]
                       if str(s.get("uses", "")).startswith("pulumi/actions@") and "command" in s.get("with", {})]
    assert ops(mirkwood) == [("up", "mirkwood", None)]
    # Production: one approved job previews, saving the plan, then applies exactly that plan.
    plan = "${{ runner.temp }}/lothlorien.plan.json"
    assert ops(lothlorien) == [("preview", "lothlorien", plan), ("up", "lothlorien", plan)]
    preview = next(s for s in lothlorien["steps"] if s.get("with", {}).get("command") == "preview")
    assert preview["with"]["comment-on-summary"] == "true"  # what the approver reads afterwards


def test_every_pulumi_operation_of_a_stack_is_followed_only_by_its_own_plan():
    """No `up` of production without the plan previewed in the same job; no up outside deploy.yml."""
    ups = [(path.name, where, step) for path in WORKFLOWS for where, step in pulumi_operations(path)
           if step["with"]["command"] == "up"]
    assert {(name, step["with"]["stack-name"]) for name, _, step in ups} == {("deploy.yml", "mirkwood"), ("deploy.yml", "lothlorien")}
    for name, where, step in ups:
        if step["with"]["stack-name"] == "lothlorien":
            assert step["with"].get("plan"), f"{where}: production's up must apply a saved plan"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_each_secret_reaches_only_the_steps_that_need_it(path):
    """No workflow- or job-level env holds a secret; a secret goes to the stack-preparing action, to a
    pulumi preview/up step (state keys and passphrase only), and nowhere else."""
    document = load(path)
    for name, job in document["jobs"].items():
        assert not secret_names(job.get("env", {})), f"{path.name}:{name}: job-level env hands secrets to every step"
        for i, step in enumerate(job.get("steps", [])):
            where, names = f"{path.name}:{name}:{i}", secret_names(step)
            if not names:
                continue
            uses = str(step.get("uses", ""))
            if uses == "./.github/actions/pulumi-stack":
                env = step["with"]["stack"].upper()
                assert names == {"PULUMI_BACKEND_URL", f"PULUMI_CONFIG_PASSPHRASE_{env}", f"STACK_SECRETS_{env}",
                                 *(s.format(env) for s in STATE_SECRETS)}, where
            elif uses.startswith("pulumi/actions@") and "command" in step.get("with", {}):
                env = step["with"]["stack-name"].upper()
                assert names == {"PULUMI_BACKEND_URL", f"PULUMI_CONFIG_PASSPHRASE_{env}",
                                 *(s.format(env) for s in STATE_SECRETS)}, f"{where}: {sorted(names)}"
                assert set(step["env"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_CONFIG_PASSPHRASE"}, where
            elif step.get("run") == "bash .github/scripts/incus-client.sh install":
                env = "LOTHLORIEN"
                assert names == {f"INCUS_CLIENT_CERTIFICATE_{env}", f"INCUS_CLIENT_KEY_{env}"}, where
                assert set(step["env"]) == {"INCUS_CLIENT_CERTIFICATE", "INCUS_CLIENT_KEY"}, where
            else:
                pytest.fail(f"{where}: {uses or 'a run step'} gets secrets {sorted(names)}")


def test_the_composite_action_gives_each_credential_to_one_step():
    action = load(ACTIONS[0])
    credential_inputs = {"backend-url", "state-access-key-id", "state-secret-access-key", "passphrase", "stack-secrets"}
    assert credential_inputs <= set(action["inputs"])
    users = {}
    for i, step in enumerate(action["runs"]["steps"]):
        text = yaml.safe_dump(step)
        for name in credential_inputs:
            if f"inputs.{name} " in text or f"inputs.{name}}}" in text:
                users.setdefault(name, []).append(step["name"])
                assert f"inputs.{name}" not in step.get("run", ""), f"{step['name']}: a credential spliced into a script"
    assert users == {name: ["Load the stack's secret config"] for name in credential_inputs}, users


def test_deploys_run_one_at_a_time_per_environment_never_cancelled():
    jobs = _jobs("deploy.yml")
    deploying = {name: job for name, job in jobs.items() if environment_of(job)}
    assert set(deploying) == {"up-mirkwood", "up-lothlorien"}
    for name, job in deploying.items():
        assert job["concurrency"] == {"group": f"deploy-{environment_of(job)}", "cancel-in-progress": False}, name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_jobs_with_credentials_run_on_their_environments_lab_runner(path):
    """GitHub-hosted runners cannot reach *.lan or 10.x: previews and ups run on the lab's runner of
    their own environment; no job on a lab runner runs for a fork's pull request."""
    document = load(path)
    labelled = 0
    for name, job in document["jobs"].items():
        runs_on = job["runs-on"]
        names = secret_names(job)
        if not names:
            assert runs_on == "ubuntu-24.04", f"{path.name}:{name}: a job without credentials stays on GitHub's runners"
            continue
        stack = "lothlorien" if any(is_production(n) for n in names) else "mirkwood"
        assert runs_on == ["self-hosted", f"homelab-{stack}"], f"{path.name}:{name}: {runs_on}"
        labelled += 1
        if triggers(document) & PULL_REQUEST_EVENTS:
            assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository", name
    assert labelled


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
    assert "::add-mask::s3cret" in masked and all("\n" not in line and "\r" not in line for line in masked)
    # The whole multi-line key too, escaped as the runner unescapes it (%25, %0D, %0A).
    assert "::add-mask::" + key.replace("\n", "%0A") in masked
    tricky = stack_secrets.masks({"influxToken": "ab%0Acd", "winPassword": "x\r\ny"})
    assert "::add-mask::ab%250Acd" in tricky  # the runner turns it back into the literal `ab%0Acd`
    assert "::add-mask::x%0D%0Ay" in tricky and "::add-mask::x" in tricky and "::add-mask::y" in tricky
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


# --- state credentials: one MinIO user per stack (.github/minio/state-<stack>.json) -------------------

MINIO = ROOT / ".github" / "minio"
STATE_PREFIXES = (".pulumi/stacks/{project}/{stack}.json*", ".pulumi/history/{project}/{stack}/*",
                  ".pulumi/backups/{project}/{stack}/*", ".pulumi/locks/organization/{project}/{stack}/*")


def _grants(stack: str) -> dict[str, set[str]]:
    """action -> resources (bucket-relative keys) the stack's MinIO policy allows."""
    document = json.loads((MINIO / f"state-{stack}.json").read_text())
    grants: dict[str, set[str]] = {}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and "NotResource" not in statement and "NotAction" not in statement
        for action in statement["Action"]:
            assert "*" not in action, f"{stack}: wildcard action {action}"
            grants.setdefault(action, set()).update(r.split(":::", 1)[1].partition("/")[2] for r in statement["Resource"])
    return grants


def test_each_stacks_state_credentials_reach_only_its_own_state():
    """Pull requests hold mirkwood's state keys: they can write mirkwood's state and nothing else.
    Production's keys write production's state and read mirkwood's outputs (the monitoring
    federation's StackReference), never the other way round."""
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
    own = lambda stack: {p.format(project=project, stack=stack) for p in STATE_PREFIXES}  # noqa: E731
    mirkwood, lothlorien = _grants("mirkwood"), _grants("lothlorien")
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert mirkwood[action] == own("mirkwood"), mirkwood[action]
        assert lothlorien[action] == own("lothlorien"), lothlorien[action]
    assert mirkwood["s3:GetObject"] == own("mirkwood") | {".pulumi/meta.yaml"}
    assert lothlorien["s3:GetObject"] == own("lothlorien") | {".pulumi/meta.yaml", f".pulumi/stacks/{project}/mirkwood.json*"}
    assert not any("lothlorien" in key for keys in mirkwood.values() for key in keys)
    assert mirkwood["s3:ListBucket"] == lothlorien["s3:ListBucket"] == {""}  # names only, the bucket itself


def test_incus_client_certificate_is_written_privately_and_removed(tmp_path):
    script = ROOT / ".github" / "scripts" / "incus-client.sh"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "INCUS_CLIENT_CERTIFICATE": "-----BEGIN CERTIFICATE-----",
           "INCUS_CLIENT_KEY": "-----BEGIN PRIVATE KEY-----"}
    done = subprocess.run(["bash", str(script), "install"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    key = tmp_path / ".config" / "incus" / "client.key"
    assert key.read_text() == "-----BEGIN PRIVATE KEY-----\n"
    assert key.stat().st_mode & 0o077 == 0 and (key.parent / "client.crt").stat().st_mode & 0o077 == 0
    done = subprocess.run(["bash", str(script), "remove"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and not key.exists()
    empty = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(script), "install"], env=empty, capture_output=True, text=True)
    assert done.returncode == 2 and "must be set" in done.stderr
    # The job removes it whatever happened, after the up.
    steps = _jobs("deploy.yml")["up-lothlorien"]["steps"]
    runs = [s.get("run", "") for s in steps]
    install = runs.index("bash .github/scripts/incus-client.sh install")
    remove = next(i for i, r in enumerate(runs) if "incus-client.sh remove" in r)
    assert install < remove and steps[remove]["if"] == "always()"
    ops = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert install < min(ops) and max(ops) < remove
