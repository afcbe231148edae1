"""Renovate keeps every pin current: its config passes Renovate's own strict validator, and its own
extraction (`--platform=local --dry-run=extract`, offline) finds every pin in the program's version
registry (pins/registry.py) with the right datasource, and nothing the program does not use.

Renovate runs from .ci/renovate (pinned by its package-lock.json; `.ci/install-tools` installs it).
Local extraction reads the files git tracks: a new, uncommitted file is not seen until it is added.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pins.registry import RENOVATE_KINDS, Pin, all_pins
from tests.conftest import ENVIRONMENTS

ROOT = Path(__file__).resolve().parent.parent
RENOVATE_DIR = ROOT / ".ci" / "renovate"
CONFIG = ROOT / ".github" / "renovate.json5"

# The datasource each kind of pin must be looked up in (Renovate's names).
DATASOURCES = {
    "python": {"pypi"},
    "runtime": {"github-releases"},  # setup-python's python-version (actions/python-versions)
    "action": {"github-tags", "github-digest"},
    "npm": {"npm"},
    "helm": {"helm"},
    "image": {"docker"},
    "k3s": {"github-releases"},
    "pulumi-package": {"github-releases", "terraform-provider"},
}
# What Renovate extracts that is not a pin of the program: the runner image and interpreter ranges.
NOT_PINS = {"github-runners", "python-version"}


def renovate_tool(name: str) -> Path:
    path = RENOVATE_DIR / "node_modules" / ".bin" / name
    if not path.exists():
        reason = f"{name} is not installed (`bash .ci/install-tools` runs `npm ci` in .ci/renovate)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run every real check")
        pytest.skip(reason)
    return path


def run_tool(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RENOVATE_BASE_DIR": str(tmp_path / "renovate-base"),
                   "LOG_FORMAT": "json", **env}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=environment)


@pytest.fixture(scope="module")
def config() -> dict:
    """The config as Renovate parses it (JSON5, with the json5 package Renovate itself uses)."""
    renovate_tool("renovate")
    script = "console.log(JSON.stringify(require('json5').parse(require('fs').readFileSync(process.argv[1], 'utf8'))))"
    done = subprocess.run(["node", "-e", script, str(CONFIG)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NODE_PATH": str(RENOVATE_DIR / "node_modules")})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> list[dict]:
    """Every dependency Renovate's extraction reports for this repository."""
    tmp = tmp_path_factory.mktemp("renovate")
    report = tmp / "report.json"
    done = run_tool([str(renovate_tool("renovate")), "--platform=local", "--dry-run=extract",
                     "--report-type=file", f"--report-path={report}"], tmp,
                    RENOVATE_ONBOARDING="false", RENOVATE_REQUIRE_CONFIG="required", LOG_LEVEL="info")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    deps = []
    for repository in json.loads(report.read_text())["repositories"].values():
        for manager, files in repository["packageFiles"].items():
            for package_file in files:
                for dep in package_file["deps"]:
                    deps.append({**dep, "manager": manager, "packageFile": package_file["packageFile"]})
    assert deps, "Renovate extracted nothing: is .github/renovate.json5 read?"
    return deps


@pytest.fixture(scope="module")
def registry(synth_result) -> list[Pin]:
    pins = all_pins({env: synth_result(env).resources for env in ENVIRONMENTS})
    assert {p.kind for p in pins} >= set(RENOVATE_KINDS), "the registry lost a kind of pin"
    return pins


def _version(dep: dict) -> str:
    return (dep.get("currentValue") or "").removeprefix("==")


def _found(pin: Pin, deps: list[dict]) -> list[dict]:
    return [d for d in deps if d.get("depName", "").lower() == pin.name.lower()
            and (_version(d) == pin.version or (pin.digest and d.get("currentDigest") == pin.digest))]


def test_config_passes_renovates_strict_validator(tmp_path):
    done = run_tool([str(renovate_tool("renovate-config-validator")), "--strict", str(CONFIG)], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Config validated successfully" in done.stdout + done.stderr


def test_every_pin_the_program_uses_is_found_by_a_renovate_manager(registry, extracted):
    renovated = [p for p in registry if p.kind in RENOVATE_KINDS]
    missing = [p for p in renovated if not _found(p, extracted)]
    assert not missing, "pins no Renovate manager finds:\n" + "\n".join(map(str, missing))
    wrong = [(p, d["datasource"]) for p in renovated for d in _found(p, extracted)
             if d["datasource"] not in DATASOURCES[p.kind]]
    assert not wrong, wrong


def test_charts_are_looked_up_in_the_repository_the_program_installs_them_from(registry, extracted, synth_result):
    repos = {}
    for env in ENVIRONMENTS:
        for release in synth_result(env).of_type("kubernetes:helm.sh/v3:Release"):
            repos[release["inputs"]["chart"]] = release["inputs"]["repositoryOpts"]["repo"]
    assert repos, "the synth has no Helm release"
    for chart, repo in repos.items():
        deps = [d for d in extracted if d["datasource"] == "helm" and d["depName"] == chart]
        assert deps and all(d.get("registryUrls") == [repo] for d in deps), (chart, repo, deps)


def test_renovate_finds_nothing_the_program_does_not_use(registry, extracted):
    known = {(p.name.lower(), p.version) for p in registry} | {(p.name.lower(), p.digest) for p in registry if p.digest}
    stray = [(d["packageFile"], d.get("depName"), _version(d)) for d in extracted
             if d["datasource"] not in NOT_PINS
             and (d.get("depName", "").lower(), _version(d)) not in known
             and (d.get("depName", "").lower(), d.get("currentDigest")) not in known]
    assert not stray, f"annotated or extracted but not used by the program: {stray}"


def test_cloud_images_are_left_to_make_bump_image(registry, extracted):
    images = [p for p in registry if p.kind == "cloud-image"]
    assert images
    names = {d.get("depName") for d in extracted} | {_version(d) for d in extracted}
    assert not [p for p in images if p.version in names], "Renovate cannot recompute a checksum"


def rules_for(config: dict, **match) -> list[dict]:
    key, value = next(iter(match.items()))
    return [rule for rule in config["packageRules"] if value in rule.get(key, [])]


def test_update_policy_groups_reviews_and_stages(config):
    assert config["automerge"] is False, "nothing merges by itself unless a rule says so"
    assert "helpers:pinGitHubActionDigests" in config["extends"]
    assert config["schedule"]
    # All Pulumi SDKs move together (pyproject and the policy pack's requirements).
    pulumi = rules_for(config, matchPackageNames="pulumi-*")
    assert pulumi and pulumi[0]["groupName"] == "Pulumi SDKs" and "pulumi" in pulumi[0]["matchPackageNames"]
    # Each chart with its image.
    assert rules_for(config, matchPackageNames="influxdb2")[0]["matchPackageNames"] == ["influxdb2", "influxdb"]
    # Staging-only patches may merge after green CI; nothing else does.
    automerging = [rule for rule in config["packageRules"] if rule.get("automerge")]
    assert automerging == [r for r in automerging if r.get("matchFileNames") == ["Pulumi.mirkwood.yaml"]
                           and r.get("matchUpdateTypes") == ["patch"]] and automerging
    # Production moves after staging, reviewed.
    production = rules_for(config, matchFileNames="Pulumi.lothlorien.yaml")
    assert production and all(r.get("automerge") is False for r in production)
    assert any(r.get("minimumReleaseAge") for r in production)
    assert "production" in production[0]["labels"]


def _environment(job: dict) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def test_a_merged_update_reaches_mirkwood_before_lothlorien():
    import yaml

    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())["jobs"]
    by_environment = {_environment(job): name for name, job in jobs.items() if _environment(job)}
    assert {"mirkwood", "lothlorien"} <= set(by_environment), by_environment

    def ancestors(name: str) -> set[str]:
        needs = jobs[name].get("needs") or []
        needs = [needs] if isinstance(needs, str) else needs
        return set(needs).union(*(ancestors(n) for n in needs)) if needs else set()

    assert by_environment["mirkwood"] in ancestors(by_environment["lothlorien"])
