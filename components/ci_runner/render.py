"""Pure renderers for the lab's GitHub Actions runner: its registration script and its job-started
hook. Plain values in, text out; no Pulumi here."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import jinja2

REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+$")

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "scripts"),
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
_ENV.filters["q"] = lambda value: shlex.quote(str(value))


@dataclass(frozen=True)
class RunnerSettings:
    environment: str  # mirkwood, lothlorien
    repository: str  # owner/name
    version: str  # actions/runner release, e.g. 2.336.0
    sha256: str  # of actions-runner-linux-<arch>-<version>.tar.gz
    arch: str = "x64"
    # Production's runner takes no pull request at all; staging's only the repository's own branches.
    allow_pull_requests: bool = False
    deploy_ref: str = "refs/heads/main"

    def __post_init__(self) -> None:
        if not REPOSITORY.match(self.repository):
            raise ValueError(f"repository {self.repository!r} is not owner/name")
        if not SHA256.match(self.sha256):
            raise ValueError("the runner's sha256 must be 64 lowercase hex digits")
        if not VERSION.match(self.version):
            raise ValueError(f"runner version {self.version!r} is not a release such as 2.336.0")

    @property
    def name(self) -> str:
        return f"{self.environment}-lab"

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels the workflows ask for: `runs-on: [self-hosted, homelab-<environment>]`."""
        return (f"homelab-{self.environment}",)


def job_started_hook(settings: RunnerSettings) -> str:
    return _ENV.get_template("job-started.sh.j2").render(
        environment=settings.environment, repository=settings.repository,
        allow_pull_requests=settings.allow_pull_requests, deploy_ref=settings.deploy_ref)


def register_script(settings: RunnerSettings) -> str:
    return _ENV.get_template("register.sh.j2").render(
        environment=settings.environment, repository=settings.repository, name=settings.name,
        labels=settings.labels, version=settings.version, arch=settings.arch, sha256=settings.sha256,
        hook=job_started_hook(settings).rstrip("\n"))
