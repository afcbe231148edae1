"""The lab DNS on one host: BIND 9 installed and given the zone over SSH (any platform)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
from pulumi_command import remote

from components import ssh
from components.dns import render

TYPE = "homelab:dns:Server"
STOP = ("systemctl", "disable", "--now", "named")


@dataclass(frozen=True)
class DnsServerArgs:
    connection: pulumi.Input[remote.ConnectionArgs]
    ssh_user: str
    family: str  # distribution family: debian | rhel
    zone: pulumi.Input[render.ZoneSpec]  # an Output when addresses come from other resources
    ready: Sequence[pulumi.Resource] = ()  # the host is provisioned once these exist


class DnsServer(pulumi.ComponentResource):
    """Runs the install script (on stdin, so `update` re-runs it whenever the zone changes)."""

    script: pulumi.Output[str]
    command: remote.Command

    def __init__(self, name: str, args: DnsServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        if args.family not in render.LAYOUTS:
            raise ValueError(f"{name}: no BIND layout for distribution family {args.family!r}")
        layout = render.LAYOUTS[args.family]
        self.script = pulumi.Output.from_input(args.zone).apply(lambda zone: render.install_script(zone, layout))
        command = render.remote_command(args.ssh_user)
        stop = ssh.as_root(STOP, args.ssh_user)
        self.command = ssh.command(
            f"{name}-bind",
            connection=args.connection,
            create=command,
            update=command,
            delete=stop,
            stdin=self.script,
            # The host must be provisioned (cloud-init done, operator account present) first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.ready)),
        )
        self.register_outputs({"script": self.script})
