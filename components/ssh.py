"""Every command the program runs on a machine over SSH: one factory with the safe defaults, and
`as_root`, the command line that runs as root whichever account logs in.

A shared module, not a component: it depends on no component and no component-specific code
depends back on it beyond calling `command`. The connection itself (user, private key, pinned
host key, dial limits) comes from `components.hostkey.connection`, which refuses one without a
host key.

The default kept here: `add_previous_output_in_env=False`. pulumi-command (v1.2.1,
provider/pkg/provider/remote/commandOutputs.go) otherwise sends the previous stdout/stderr with
`session.Setenv(PULUMI_COMMAND_STDOUT/STDERR)` on every update: sshd's AcceptEnv refuses them
(a warning per update) and the previous output (a kubeconfig, a token) would go on the wire
(tests/test_remote_commands.py).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi_command import remote


def as_root(argv: Sequence[str], ssh_user: str) -> str:
    """The command line that runs `argv` as root for a login as `ssh_user`: as it is for root, else
    behind `sudo --non-interactive` (a missing sudo right fails at once instead of waiting for a
    password no one types)."""
    prefix = [] if ssh_user == "root" else ["sudo", "--non-interactive"]
    return shlex.join([*prefix, *argv])


def command(
    resource_name: str,
    *,
    connection: pulumi.Input[remote.ConnectionArgs],
    create: pulumi.Input[str],
    update: pulumi.Input[str] | None = None,
    delete: pulumi.Input[str] | None = None,
    stdin: pulumi.Input[str] | None = None,
    triggers: pulumi.Input[Sequence[Any]] | None = None,
    logging: remote.Logging | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> remote.Command:
    """A `remote.Command` over `connection` that never sends its previous output as SSH environment."""
    return remote.Command(
        resource_name,
        connection=connection,
        create=create,
        update=update,
        delete=delete,
        stdin=stdin,
        triggers=triggers,
        logging=logging,
        add_previous_output_in_env=False,
        opts=opts,
    )
