"""Wiring of the onboard layer: existing hosts provisioned over SSH and added to the registry."""

from __future__ import annotations

from cloudinit.render import pi_kernel_args, provision_script
from components.onboard import OnboardedHost, OnboardedHostArgs

from .config.model import EnvironmentConfig
from .provision import provision_spec
from .secrets import Secrets
from .hosts import Host, HostRegistry


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry) -> None:
    """Provision every configured existing host with the base script; register it once ready."""
    if not cfg.onboard:
        return
    env = cfg.environment
    private_key = secrets.require("sshPrivateKey")
    for host in cfg.onboard:
        spec = provision_spec(cfg, host.name, host.distribution, "onboard", host.groups)
        component = OnboardedHost(
            host.name,
            OnboardedHostArgs(
                address=host.address,
                ssh_user=host.ssh_user,
                operator_user=env.operator.name,
                provision_script=provision_script(spec, disable_root=host.ssh_user != "root"),
                private_key=private_key,
                host_key=host.host_key,
                kernel_args=pi_kernel_args(spec),
            ),
        )
        hosts.add(Host(
            name=host.name,
            fqdn=env.fqdn(host.name),
            platform="onboard",
            distribution=host.distribution,
            address=host.address,
            ssh_user=env.operator.name,
            ready=(component.ready,),
            groups=host.groups,
            host_key=component.host_key,
        ))
