"""The lab's own GitHub Actions runner: installed and registered on a host of this program over SSH,
so that the pipeline's previews and ups run inside the lab (GitHub-hosted runners cannot reach it)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components import ssh

from .render import RunnerSettings, job_started_hook, register_script

__all__ = ["Runner", "RunnerArgs", "RunnerSettings", "job_started_hook", "register_script"]

TYPE = "homelab:ci:Runner"


@dataclass(frozen=True)
class RunnerArgs:
    settings: RunnerSettings
    connection: remote.ConnectionArgs
    ssh_user: str
    registration_token: pulumi.Input[str]  # secret; read once, on the first registration
    depends_on: tuple[pulumi.Resource, ...] = ()


class Runner(pulumi.ComponentResource):
    """The runner service on one host, re-run when its settings change (the script is the command)."""

    def __init__(self, name: str, args: RunnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        command = ssh.as_root(["bash", "-c", register_script(args.settings)], args.ssh_user)
        self.command = ssh.command(
            f"{name}-register",
            connection=args.connection,
            create=command,
            update=command,
            stdin=pulumi.Output.secret(args.registration_token),
            logging=remote.Logging.STDOUT_AND_STDERR,
            # The host must be provisioned (its user, sudo, curl) before the script can run: the
            # connection's address alone does not wait for provisioning.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.labels = args.settings.labels
        self.register_outputs({"labels": list(self.labels)})
