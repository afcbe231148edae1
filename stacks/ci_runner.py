"""Wiring of the lab's GitHub Actions runner: the configured container gets the runner, labelled
homelab-<environment>, with the job-started hook that keeps forks (and, for production, every
pull request and every ref but main) off it."""

from __future__ import annotations

from components.ci_runner import Runner, RunnerArgs, RunnerSettings

from .config.ci_runner import TOKEN_KEY
from .config.model import EnvironmentConfig
from .hosts import HostRegistry, connection
from .secrets import Secrets


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry) -> Runner | None:
    spec = cfg.ci_runner
    if spec is None:
        return None
    host = hosts.get(spec.host)
    env = cfg.environment
    settings = RunnerSettings(environment=env.name, repository=spec.repository, version=spec.version,
                              sha256=spec.sha256, arch=spec.arch, allow_pull_requests=not env.production)
    return Runner(f"{env.name}-ci-runner", RunnerArgs(
        settings=settings, connection=connection(host, secrets.require("sshPrivateKey")), ssh_user=host.ssh_user,
        registration_token=secrets.require(TOKEN_KEY),
        # The container must be provisioned (user, sudo, curl): its address is known before that.
        depends_on=host.ready))
