"""Wiring of the incus layer from the validated config: one provider and one Site (networks and
profiles) per remote, one Container per instance, each instance in the host registry."""

from __future__ import annotations

import pulumi

from cloudinit.render import ProvisionSpec, user_data
from components import hostkey
from components.catalog import CATALOG
from components.incus import Container, ContainerArgs, NetworkSpec, ProxySpec, Site, SiteArgs, VolumeSpec, binding
from components.incus.container import static_network_config

from .config import names
from .config.incus import Incus, IncusNetwork, Instance, Remote, lan, token_secret_key
from .config.model import EnvironmentConfig
from .secrets import Secrets
from .hosts import Host, HostRegistry


def provider_args(name: str, remote: Remote, incus: Incus, secrets: Secrets) -> binding.ProviderArgs:
    """The lxc/incus provider of one remote: that remote (default) plus the OCI registries as image remotes."""
    token = secrets.require(token_secret_key(name)) if remote.trust == "token" else None
    remotes = [binding.ProviderRemoteArgs(name=name, address=remote.address, protocol="incus",
                                          authentication_type="tls", token=token)]
    remotes += [binding.ProviderRemoteArgs(name=key, address=registry.address, protocol="oci", public=True)
                for key, registry in sorted(incus.oci_registries.items())]
    return binding.ProviderArgs(
        remotes=remotes, default_remote=name, config_dir=remote.config_dir,
        accept_remote_certificate=remote.accept_certificate,
        # With a trust token the provider makes its own client certificate and has the remote trust it.
        generate_client_certificates=remote.trust == "token")


def container_args(cfg: EnvironmentConfig, name: str, inst: Instance, site: Site, remote: Remote) -> ContainerArgs:
    env = cfg.environment
    image, provisioning = inst.image, None
    if inst.kind == "system":
        distro = CATALOG[inst.distribution]
        image = image or distro.incus_image
        provisioning = user_data(ProvisionSpec(
            distribution=distro, user=env.operator.name, ssh_authorized_keys=env.operator.ssh_authorized_keys,
            timezone=env.timezone, hostname=name, fqdn=env.fqdn(name), guest_agent=False, shell=env.operator.shell,
            extra_packages=env.packages_for(inst.groups, distro.family)))
    network_config = None
    net = cfg.incus.networks[inst.network]
    if net.type == "macvlan" and inst.kind == "system" and inst.address is not None:
        # No Incus DHCP on the LAN: the address, route and resolvers (the lab DNS first) from cloud-init.
        env_name = next(n for n, e in env.networks.items() if e.cidr == net.cidr)
        env_net = env.networks[env_name]
        network_config = static_network_config(
            str(inst.address), net.cidr.prefixlen, str(env_net.gateway),
            names.resolvers(cfg, env_name, name), (env.domain,))
    volume = None
    if inst.data is not None:
        snaps = inst.data.snapshots
        volume = VolumeSpec(pool=inst.data.pool or remote.storage_pool, size=inst.data.size, path=inst.data.path,
                            schedule=snaps.schedule, expiry=snaps.expiry, pattern=snaps.pattern,
                            target=None if remote.shared_storage else inst.target)
    return ContainerArgs(
        hostname=name, image=image, kind=inst.kind, profiles=site.profiles_for(inst.network, inst.profiles),
        network=site.network_names[inst.network], root_pool=remote.storage_pool, cpu=inst.cpu,
        memory=inst.memory, root_size=inst.root_size, address=str(inst.address) if inst.address else None,
        user_data=provisioning, network_config=network_config,
        proxies=tuple(ProxySpec(key, p.listen, p.connect) for key, p in sorted(inst.proxies.items())),
        volume=volume, target=inst.target, project=remote.project, environment=env.name,
        protect=env.production, retain_data=env.production)


def network_spec(cfg: EnvironmentConfig, key: str, net: IncusNetwork, remote_name: str, remote: Remote) -> NetworkSpec:
    """A network as one remote creates it: a NAT bridge, or macvlan on that remote's uplink(s)."""
    if net.type != "macvlan":
        return NetworkSpec(key, str(net.cidr), nat=net.nat)
    env_net = lan(cfg, net)
    return NetworkSpec(key, str(net.cidr), type="macvlan", parent=net.uplink(remote_name),
                       vlan=net.vlan if net.vlan is not None else (env_net.vlan if env_net else None),
                       member_parents={m: net.uplink(remote_name, m) or "" for m in remote.members})


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry) -> dict[str, Container]:
    """Declare every remote's networks and profiles and every instance; register the instances as hosts.
    Returns the containers by instance name (the backups layer exports their data volumes)."""
    incus = cfg.incus
    containers: dict[str, Container] = {}
    if incus is None:
        return containers
    sites: dict[str, tuple[Site, pulumi.ResourceOptions]] = {}
    for name, remote in sorted(incus.remotes.items()):
        provider = binding.Provider(f"incus-{name}", provider_args(name, remote, incus, secrets))
        opts = pulumi.ResourceOptions(providers={binding.PACKAGE: provider})
        # Only the networks this remote's instances use are created on it.
        used = sorted({inst.network for inst in incus.instances.values() if inst.remote == name})
        networks = tuple(network_spec(cfg, key, incus.networks[key], name, remote) for key in used)
        site = Site(f"incus-{name}", SiteArgs(remote=name, networks=networks, members=remote.members,
                                              extra_profiles=incus.profiles, project=remote.project), opts=opts)
        sites[name] = (site, opts)
    for name, inst in sorted(incus.instances.items()):
        site, opts = sites[inst.remote]
        container = Container(f"incus-{name}", container_args(cfg, name, inst, site, incus.remotes[inst.remote]),
                              opts=opts)
        containers[name] = container
        bridged = incus.networks[inst.network].type == "bridge"
        hosts.add(Host(
            name=name, fqdn=cfg.environment.fqdn(name), platform="incus",
            distribution=inst.distribution if inst.kind == "system" else None,
            address=container.ipv4_address, ssh_user=cfg.environment.operator.name, ready=(container.instance,),
            machine=(container.instance,),
            groups=tuple(sorted({"incus", f"incus-{inst.remote}", *inst.groups})),
            # Behind a NAT bridge only the remote reaches the instance (incus exec).
            incus_remote=inst.remote if bridged else None,
            # On the LAN (macvlan) the program connects over SSH (DNS, edge broker): the host key
            # is recorded on first contact and pinned, as for every other SSH host.
            host_key=None if bridged else hostkey.recorded_host_key(
                name, container.ipv4_address, machine=[container.instance], parent=container)))
    return containers
