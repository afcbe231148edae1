"""The lab's GitHub Actions runner: its job-started hook keeps forks (and, on production's runner,
every pull request and every ref but main) off it, run for real with bash; its registration script
passes shellcheck, takes the token on stdin and checks the release tarball before unpacking it; the
config section and the program wire it onto a container of the config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.ci_runner import RunnerSettings, job_started_hook, register_script
from stacks.config import loader
from synth.engine import synth_config
from tests.tools import require_tool

ROOT = Path(__file__).resolve().parent.parent
REPO = "homelab-owner/homelab"
SHA = "0123456789abcdef" * 4  # test data: not a claim about any real release


def settings(env: str) -> RunnerSettings:
    return RunnerSettings(environment=env, repository=REPO, version="2.336.0", sha256=SHA,
                          allow_pull_requests=env != "lothlorien")


def hook(tmp_path: Path, env: str, event: str, ref: str = "refs/heads/main", head: str = REPO,
         repository: str = REPO) -> subprocess.CompletedProcess:
    script = tmp_path / f"hook-{env}.sh"
    script.write_text(job_started_hook(settings(env)))
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps({"pull_request": {"head": {"repo": {"full_name": head}}}}
                                  if event.startswith("pull_request") else {}))
    environment = {"PATH": "/usr/bin:/bin", "GITHUB_REPOSITORY": repository, "GITHUB_EVENT_NAME": event,
                   "GITHUB_REF": ref, "GITHUB_EVENT_PATH": str(payload)}
    return subprocess.run(["bash", str(script)], env=environment, capture_output=True, text=True)


@pytest.mark.parametrize("env,event,kwargs,accepted,says", [
    ("mirkwood", "pull_request", {}, True, "pull_request accepted"),
    ("mirkwood", "pull_request", {"head": "mallory/homelab"}, False, "a pull request from a fork (mallory/homelab)"),
    ("mirkwood", "pull_request_target", {"head": "mallory/homelab"}, False, "from a fork"),
    ("mirkwood", "push", {}, True, "push accepted"),
    ("mirkwood", "push", {"ref": "refs/heads/feature"}, False, "only refs/heads/main deploys"),
    ("lothlorien", "pull_request", {}, False, "pull requests never run here"),
    ("lothlorien", "push", {}, True, "push accepted"),
    ("lothlorien", "workflow_dispatch", {"ref": "refs/heads/feature"}, False, "only refs/heads/main deploys"),
    ("lothlorien", "push", {"repository": "mallory/homelab"}, False, "repository mallory/homelab is not"),
    ("lothlorien", "schedule", {}, False, "event schedule does not run here"),
    ("lothlorien", "issue_comment", {}, False, "does not run here"),
])
def test_job_started_hook_accepts_only_what_the_environment_allows(tmp_path, env, event, kwargs, accepted, says):
    done = hook(tmp_path, env, event, **kwargs)
    assert (done.returncode == 0) is accepted, done.stdout + done.stderr
    assert says in done.stdout + done.stderr


def test_hook_refuses_a_pull_request_whose_payload_it_cannot_read(tmp_path):
    script = tmp_path / "hook.sh"
    script.write_text(job_started_hook(settings("mirkwood")))
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env={
        "PATH": "/usr/bin:/bin", "GITHUB_REPOSITORY": REPO, "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(tmp_path / "missing.json")})
    assert done.returncode == 1 and "no event payload" in done.stderr


@pytest.mark.parametrize("env", ["mirkwood", "lothlorien"])
def test_runner_scripts_pass_shellcheck(tmp_path, env):
    shellcheck = require_tool("shellcheck")
    for name, text in (("register.sh", register_script(settings(env))), ("hook.sh", job_started_hook(settings(env)))):
        path = tmp_path / name
        path.write_text(text)
        done = subprocess.run([shellcheck, "--severity=style", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout


def test_register_script_checks_the_tarball_before_unpacking_and_reads_the_token_from_stdin():
    script = register_script(settings("lothlorien"))
    check, unpack = script.index("sha256sum --check"), script.index("tar -xzf")
    assert check < unpack
    assert f"readonly SHA256={SHA}" in script
    assert "token=$(cat)" in script and 'ACTIONS_RUNNER_INPUT_TOKEN="$token"' in script
    assert "--token" not in script  # never in argv
    assert "readonly LABELS=homelab-lothlorien" in script
    assert "pull requests never run here" in script  # production's hook, embedded
    assert "readonly ALLOW_PULL_REQUESTS=false" in script


def test_runner_labels_are_the_ones_the_workflows_ask_for():
    wanted = set()
    for path in (ROOT / ".github" / "workflows").glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            if isinstance(job["runs-on"], list) and "self-hosted" in job["runs-on"]:
                wanted.add(tuple(label for label in job["runs-on"] if label != "self-hosted"))
    assert wanted == {settings("mirkwood").labels, settings("lothlorien").labels}


@pytest.mark.parametrize("bad,message", [
    ({"repository": "not a repo"}, "repository"), ({"sha256": "abc"}, "sha256"), ({"version": "latest"}, "version")])
def test_runner_settings_refuse_bad_values(bad, message):
    with pytest.raises(ValueError, match=message):
        RunnerSettings(**{"environment": "mirkwood", "repository": REPO, "version": "2.336.0", "sha256": SHA, **bad})


def with_runner(env: str, host: str, **extra) -> tuple[dict, set]:
    entries, secret_keys, _ = synth_config(env)
    entries["homelab:ci_runner"] = {"host": host, "repository": REPO, "version": "2.336.0", "sha256": SHA, **extra}
    entries["homelab:githubRunnerToken"] = "runner-token-canary"
    return entries, secret_keys | {"homelab:githubRunnerToken"}


def test_config_puts_the_runner_on_a_container_of_the_config():
    entries, secret_keys = with_runner("mirkwood", "mirkwood-dns")
    cfg = loader.validate(entries, stack="mirkwood", secret_keys=secret_keys)
    assert cfg.ci_runner.host == "mirkwood-dns"
    for host, message in (("nowhere", "ci_runner.host: is not a host of this config (got 'nowhere')"),
                          ("mirkwood-k3s-s1", "ci_runner.host: is a proxmox-vm host; the runner gets a container of its own")):
        entries, secret_keys = with_runner("mirkwood", host)
        with pytest.raises(loader.ConfigError) as error:
            loader.validate(entries, stack="mirkwood", secret_keys=secret_keys)
        assert any(line.startswith(message) for line in error.value.lines), error.value.lines
    entries, secret_keys = with_runner("mirkwood", "mirkwood-dns")
    del entries["homelab:githubRunnerToken"]
    with pytest.raises(loader.ConfigError) as error:
        loader.validate(entries, stack="mirkwood", secret_keys=secret_keys - {"homelab:githubRunnerToken"})
    assert any(line.startswith("homelab:githubRunnerToken: required secret is not set") for line in error.value.lines)


def test_program_registers_the_runner_over_ssh_with_the_token_on_stdin(tmp_path):
    document = yaml.safe_load((ROOT / "Pulumi.mirkwood.yaml").read_text())
    document["config"]["homelab:ci_runner"] = {"host": "mirkwood-dns", "repository": REPO,
                                                "version": "2.336.0", "sha256": SHA}
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.mirkwood.yaml").write_text(yaml.safe_dump(document))
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"githubRunnerToken": "runner-token-canary"}))
    done = subprocess.run([sys.executable, "-m", "synth", "--env", "mirkwood", "--out", str(tmp_path / "build"),
                           "--stack-dir", str(stacks), "--secrets-file", str(secrets), "--placeholders"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    resources = json.loads((tmp_path / "build" / "mirkwood" / "resources.json").read_text())
    (register,) = [r for r in resources if r["name"] == "mirkwood-ci-runner-register"]
    assert register["inputs"]["stdin"] == "[secret]"
    # After the container is provisioned: the script needs its user, sudo and curl.
    assert any("mirkwood-dns" in urn for urn in register["dependencies"]), register["dependencies"]
    assert "homelab-mirkwood" in register["inputs"]["create"]
    text = "".join(p.read_text() for p in (tmp_path / "build").rglob("*") if p.is_file())
    assert "runner-token-canary" not in text
    (component,) = [r for r in resources if r["type"] == "homelab:ci:Runner"]
    assert register["parent"] == component["urn"]


# actions/runner v2.337.0, actions-runner-linux-x64-2.337.0.tar.gz: the SHA-256 GitHub publishes for it,
# as pinned independently in public repositories (gurkhaman/ci-cv-cd_framework deployment/github-runner,
# garyrizzo1992/dummy_exchange register-runner.sh, and a Go test of the runner downloads API's
# sha256_checksum). Not computed here: the tarball cannot be downloaded on this machine.
RUNNER_2_337_0_LINUX_X64 = "70920811a4f8ad4328818682bca5c6469c1c942fab52448868071d0063816613"


RUNNER_POLICY = {"mirkwood": ("true", "from a fork"), "lothlorien": ("false", "pull requests never run here")}


@pytest.mark.parametrize("env", ["mirkwood", "lothlorien"])
def test_each_environment_runs_its_runner_on_a_container_of_its_own_with_the_published_checksum(synth_result, env):
    """Both committed stacks enable their runner: a Proxmox LXC that serves nothing else, pinned to
    its node, the release pinned by the checksum GitHub publishes, registered under the label the
    workflows ask for, its token on stdin only; staging's hook admits same-repository pull requests,
    production's none."""
    document = yaml.safe_load((ROOT / f"Pulumi.{env}.yaml").read_text())["config"]
    runner = document["homelab:ci_runner"]
    assert (runner["version"], runner["arch"], runner["sha256"]) == ("2.337.0", "x64", RUNNER_2_337_0_LINUX_X64)
    (container,) = [c for c in document["homelab:proxmox"]["containers"] if c["name"] == runner["host"]]
    assert container["groups"] == ["ci"], "the runner's container runs nothing else"
    assert container.get("node"), "an added node must not move (replace) the runner"

    run = synth_result(env)
    (register,) = [r for r in run.of_type("command:remote:Command") if r["name"] == f"{env}-ci-runner-register"]
    script = register["inputs"]["create"]
    assert f"readonly SHA256={RUNNER_2_337_0_LINUX_X64}" in script
    assert "readonly VERSION=2.337.0" in script and "readonly ARCH=x64" in script
    assert f"readonly LABELS=homelab-{env}" in script
    allow, refusal = RUNNER_POLICY[env]
    assert f"readonly ALLOW_PULL_REQUESTS={allow}" in script and refusal in script
    assert register["inputs"]["stdin"] == "[secret]"
    assert any(runner["host"] in urn for urn in register["dependencies"]), register["dependencies"]