"""The lab's self-hosted GitHub Actions runner (the pipeline's previews and ups run on it).

```yaml
homelab:ci_runner:
  host: mirkwood-ci            # a container this config declares (Incus instance or Proxmox LXC)
  repository: owner/homelab    # the repository whose workflows it runs
  version: 2.336.0             # actions/runner release
  # sha256 of actions-runner-linux-x64-2.336.0.tar.gz as the release notes give it (replace these zeros)
  sha256: "0000000000000000000000000000000000000000000000000000000000000000"
  arch: x64                    # or arm64
```

Registered with the secret `githubRunnerToken` (a registration token, valid for one hour:
`gh api -X POST repos/OWNER/REPO/actions/runners/registration-token --jq .token`), labelled
`homelab-<environment>`. Production's runner accepts no pull request at all; staging's only pull
requests from the repository's own branches (its job-started hook refuses the rest).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import field_validator

from components.ci_runner.render import REPOSITORY, SHA256, VERSION

from .base import DeclaredHost, Model, Problem, SecretSpec

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

TOKEN_KEY = "githubRunnerToken"
# A runner runs whatever the repository's workflows say: on a container of its own, never on a VM
# or host that serves anything else.
CONTAINER_PLATFORMS = ("incus", "proxmox-lxc")


class CiRunner(Model):
    """Where the environment's runner lives and which release it runs."""

    host: str
    repository: str
    version: str
    sha256: str
    arch: Literal["x64", "arm64"] = "x64"

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not REPOSITORY.match(value):
            raise ValueError("is not a GitHub repository such as owner/homelab")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not VERSION.match(value):
            raise ValueError("is not an actions/runner release such as 2.336.0")
        return value

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, value: str) -> str:
        if not SHA256.match(value):
            raise ValueError("is not a sha256 (64 lowercase hex digits) of the runner's release tarball")
        return value


def host_checks(cfg: "EnvironmentConfig", declared: Sequence[DeclaredHost]) -> Iterable[Problem]:
    """The runner's host is a container this config declares."""
    if cfg.ci_runner is None:
        return
    host = next((h for h in declared if h.name == cfg.ci_runner.host), None)
    if host is None:
        yield Problem("ci_runner.host", cfg.ci_runner.host, "is not a host of this config")
    elif host.platform not in CONTAINER_PLATFORMS:
        yield Problem("ci_runner.host", cfg.ci_runner.host,
                      f"is a {host.platform} host; the runner gets a container of its own "
                      f"({', '.join(CONTAINER_PLATFORMS)})")


def secrets(cfg: "EnvironmentConfig") -> Iterable[SecretSpec]:
    if cfg.ci_runner is not None:
        yield SecretSpec(TOKEN_KEY, "GitHub Actions runner registration token (one hour; only the first registration reads it)")
        yield SecretSpec("sshPrivateKey", "SSH private key of the operator, for provisioning over SSH")
