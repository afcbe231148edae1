"""SSH host keys pinned for every remote connection.

pulumi-command 1.2.1 verifies a host only when `ConnectionArgs.host_key` is set: the key is parsed
as an authorized_keys line and checked with `ssh.FixedHostKey`, and the client offers only that
key's algorithm; without it, any key is accepted (`ssh.InsecureIgnoreHostKey`, pulumi/pulumi-command
v1.2.1 provider/pkg/provider/remote/connection.go, SSHConfig). So every connection the program makes
carries a host key: one from the config when the operator pinned it, else the key recorded on first
contact by `keyscan.sh` (a local.Command: its stdout stays in the state, and every later run
enforces it). A replaced machine has new host keys: the record is replaced with it (`replace_with`).

Keys are ed25519: with an `ssh-rsa` key the client would offer only the SHA-1 `ssh-rsa` signature
algorithm, which OpenSSH servers refuse since 8.8.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from pathlib import Path

import pulumi
from pulumi_command import local, remote

KEY_TYPE = "ssh-ed25519"
PINNABLE_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
KEYSCAN_SCRIPT = Path(__file__).parent / "keyscan.sh"
KNOWN_HOSTS_SCRIPT = Path(__file__).parent / "known-hosts.sh"
DEFAULT_TIMEOUT = 900  # a fresh VM boots and runs cloud-init before sshd answers


def host_key_problem(line: str) -> str | None:
    """Why `line` cannot pin a host key (None when it can): `<type> <base64>` of a pinnable type."""
    parts = line.split()
    if len(parts) < 2 or parts[0] not in PINNABLE_TYPES:
        return (f"is not a host key line of type {', '.join(PINNABLE_TYPES[:2])}, ... such as "
                "'ssh-ed25519 AAAA...' (ssh-keyscan -t ed25519 HOST; ssh-rsa is not accepted)")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return "has a key that is not base64"
    if blob[4:4 + len(parts[0])] != parts[0].encode():
        return f"has a key that is not of type {parts[0]}"
    return None


def keyscan_script() -> str:
    return KEYSCAN_SCRIPT.read_text()


def recorded_host_key(name: str, address: pulumi.Input[str], *, port: int = 22,
                      machine: Sequence[pulumi.Resource] = (), timeout: int = DEFAULT_TIMEOUT,
                      parent: pulumi.Resource | None = None) -> pulumi.Output[str]:
    """The host key of `address`, recorded on first contact by a local.Command `<name>-host-key`.

    `machine` is what the key belongs to (the VM, the instance): the record waits for it and is
    replaced whenever it is replaced."""
    record = local.Command(
        f"{name}-host-key",
        create=keyscan_script(),
        interpreter=["/bin/bash", "-c"],
        environment={"HOST": address, "PORT": str(port), "KEY_TYPE": KEY_TYPE, "TIMEOUT": str(timeout)},
        add_previous_output_in_env=False,
        opts=pulumi.ResourceOptions(
            parent=parent,
            # The key exists once the machine has booted; a static address does not say so.
            depends_on=list(machine),
            replace_with=list(machine) or None,
        ),
    )
    return record.stdout.apply(lambda text: text.strip())


def pinned_or_recorded(name: str, address: pulumi.Input[str], pinned: str | None, *, port: int = 22,
                       machine: Sequence[pulumi.Resource] = (),
                       parent: pulumi.Resource | None = None) -> pulumi.Output[str]:
    """The host key from the config when pinned there, else the one recorded on first contact."""
    if pinned is not None:
        return pulumi.Output.from_input(pinned.strip())
    return recorded_host_key(name, address, port=port, machine=machine, parent=parent)


def known_hosts(name: str, pinned: Mapping[str, str]) -> local.Command:
    """A local.Command that puts `pinned` (address -> key line) into the known_hosts of the user
    running Pulumi, or fails when that file holds other keys for them (known-hosts.sh). For
    clients that read known_hosts themselves, such as the Proxmox provider's SSH."""
    lines = "".join(f"{address} {' '.join(key.split()[:2])}\n" for address, key in sorted(pinned.items()))
    script = KNOWN_HOSTS_SCRIPT.read_text()
    return local.Command(name, create=script, update=script, interpreter=["/bin/bash", "-c"],
                         environment={"PINNED": lines}, add_previous_output_in_env=False)


def connection(host: pulumi.Input[str], user: str, private_key: pulumi.Input[str],
               host_key: pulumi.Input[str] | None, *, port: int = 22, dial_error_limit: int = 30,
               per_dial_timeout: int = 10) -> remote.ConnectionArgs:
    """SSH connection args that always pin the host key; a missing one is a programming error."""
    if host_key is None:
        raise ValueError(f"no SSH host key for {host!r}: every connection pins one (components/hostkey)")
    return remote.ConnectionArgs(host=host, user=user, port=port, private_key=private_key, host_key=host_key,
                                 dial_error_limit=dial_error_limit, per_dial_timeout=per_dial_timeout)
