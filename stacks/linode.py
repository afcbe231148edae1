"""Wiring of the linode layer: one LinodeHost per configured instance, added to the registry."""

from __future__ import annotations

import pulumi
import pulumi_linode as linode

from cloudinit.render import provision_script, user_data
from components.linode import FirewallRule, LinodeHost, LinodeHostArgs

from .config.model import EnvironmentConfig
from .provision import provision_spec
from .secrets import Secrets
from .hosts import Host, HostRegistry


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry) -> None:
    """Declare every Linode instance with its firewall and provisioning; register them as hosts."""
    if cfg.linode is None or not cfg.linode.instances:
        return
    env = cfg.environment
    provider = linode.Provider("linode", token=secrets.require("linodeToken"))
    private_key = secrets.require("sshPrivateKey")
    for instance in cfg.linode.instances:
        # Linode instances sit on the public internet: the LAN's /etc/hosts entries are left out,
        # and so user-data (which replaces the instance when it changes) stays stable.
        spec = provision_spec(cfg, instance.name, instance.distribution, "linode", instance.groups,
                              with_hosts_entries=False)
        cloud_init = instance.provision == "cloud-init"
        component = LinodeHost(
            instance.name,
            LinodeHostArgs(
                label=instance.name,
                region=instance.region,
                type=instance.type,
                image=instance.image,
                authorized_keys=tuple(env.operator.ssh_authorized_keys),
                ssh_sources=tuple(str(net) for net in cfg.linode.ssh_sources),
                operator_user=env.operator.name,
                private_key=private_key,
                user_data=user_data(spec) if cloud_init else None,
                # Provisioning connects as root, so root keeps its key login (never passwords).
                provision_script=None if cloud_init else provision_script(spec, disable_root=False),
                # A cloud-init instance is kept current over SSH too: edits never replace it (day 2).
                reprovision_script=provision_script(spec) if cloud_init else None,
                services=tuple(FirewallRule(label=s.label, protocol=s.protocol, ports=s.ports,
                                            sources=tuple(str(n) for n in s.sources))
                               for s in instance.services),
                private_ip=instance.private_ip,
                tags=("homelab", env.name, *instance.groups),
                protect=env.production,
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        hosts.add(Host(
            name=instance.name,
            fqdn=env.fqdn(instance.name),
            platform="linode",
            distribution=instance.distribution,
            address=component.public_ip,
            ssh_user=env.operator.name,
            ready=(component.ready, *([component.provision] if component.provision else [])),
            machine=(component.instance,),
            groups=instance.groups,
            private_address=component.private_ip,
            host_key=component.host_key,
        ))
