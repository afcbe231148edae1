"""An existing host brought to the base provisioning by an idempotent script over SSH, then checked."""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components import hostkey, ssh

TYPE = "homelab:onboard:OnboardedHost"

# Run as the operator account the script created: proves key login and passwordless sudo work,
# which is what every later layer relies on.
READY_CHECK = "sudo -n true && hostname"
# A host rebooting for kernel arguments refuses the operator's login until it is back (/run/nologin,
# see provision.sh): pulumi-command retries refused dials (remote/connection.go, dialErrorLimit), so
# the ready check waits up to this many dials for the reboot (`shutdown -r +1`) and the boot.
REBOOT_DIAL_ERROR_LIMIT = 60
BOOT_CMDLINES = ("/boot/firmware/cmdline.txt", "/boot/cmdline.txt")


def ready_check(kernel_args: tuple[str, ...] = ()) -> str:
    """READY_CHECK, plus (on a board with a cmdline.txt) every kernel argument active in the running kernel."""
    if not kernel_args:
        return READY_CHECK
    on_a_board = " || ".join(f"test -f {path}" for path in BOOT_CMDLINES)
    wanted = " ".join(shlex.quote(arg) for arg in kernel_args)
    return (f"{READY_CHECK} && if {on_a_board}; then for arg in {wanted}; do "
            f'case " $(cat /proc/cmdline) " in *" $arg "*) ;; '
            f'*) echo "kernel argument $arg is not active: reboot pending" >&2; exit 1 ;; esac; done; fi')


@dataclass(frozen=True)
class OnboardedHostArgs:
    address: pulumi.Input[str]
    ssh_user: str  # the account that exists already (e.g. pi, debian, root)
    operator_user: str  # the account provision_script creates
    provision_script: str  # cloudinit/render.py:provision_script(); no secrets in it
    private_key: pulumi.Input[str]  # secret
    ssh_port: int = 22
    host_key: str | None = None  # pinned in the config; else recorded on first contact
    kernel_args: tuple[str, ...] = ()  # cloudinit.render.pi_kernel_args(spec): provisioning may reboot for them


class OnboardedHost(pulumi.ComponentResource):
    """provision (script on stdin) -> ready (a command as the operator)."""

    provision: remote.Command
    ready: remote.Command
    host_key: pulumi.Output[str]

    def __init__(self, name: str, args: OnboardedHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.host_key = hostkey.pinned_or_recorded(name, args.address, args.host_key, port=args.ssh_port, parent=self)

        def login(user: str, dial_error_limit: int = 10) -> remote.ConnectionArgs:
            return hostkey.connection(args.address, user, args.private_key, self.host_key, port=args.ssh_port,
                                      dial_error_limit=dial_error_limit)

        command = ssh.as_root(["bash", "-s"], args.ssh_user)  # sudo never waits for a password
        # Script on stdin, same command on update: a changed script re-runs in place as an update
        # (a trigger would replace the resource, pulumi-command#855).
        self.provision = ssh.command(
            f"{name}-provision",
            connection=login(args.ssh_user),
            create=command,
            update=command,
            stdin=args.provision_script,
            opts=child,
        )
        digest = hashlib.sha256(args.provision_script.encode()).hexdigest()
        self.ready = ssh.command(
            f"{name}-ready",
            connection=login(args.operator_user, REBOOT_DIAL_ERROR_LIMIT if args.kernel_args else 10),
            create=ready_check(args.kernel_args),
            # Re-checked whenever the script changes.
            triggers=[digest],
            # The operator account exists only once provisioning has run; no data links them.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.provision]),
        )
        self.register_outputs({"address": args.address, "provision_stdout": self.provision.stdout})
