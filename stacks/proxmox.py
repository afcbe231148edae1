"""Wiring of the proxmox layer from the validated config: templates, VMs, LXC containers."""

from __future__ import annotations

import dataclasses
import hashlib

import pulumi
import pulumi_proxmoxve as proxmoxve
from pulumi_command import remote

from cloudinit.render import CLOUD_INIT_WAIT, ProvisionSpec, provision_script
from components import hostkey, ssh
from components.catalog import CATALOG
from components.proxmox import (Image, ImageArgs, Lxc, LxcArgs, NetworkArgs, Snippet, SnippetArgs, Template,
                                TemplateArgs, Vm, VmArgs)
from components.proxmox.metadata import shared_user_data

from .config import names
from .config import proxmox as pxcfg
from .config.model import EnvironmentConfig, declared_hosts
from .provision import host_roles, provision_spec
from .secrets import Secrets
from .hosts import Host, HostRegistry, connection

# Containers get the operator's SSH keys for root (no password); they have no operator user until provisioned.
LXC_SSH_USER = "root"


def package_variant(packages: tuple[str, ...]) -> str:
    """A short, stable name part for a set of extra packages (snippet names and file names)."""
    return "pkg" + hashlib.sha256(" ".join(packages).encode()).hexdigest()[:8]


def provider(cfg: EnvironmentConfig, secrets: Secrets) -> proxmoxve.Provider:
    """API token for the API, SSH (key from secrets) for snippet uploads to each node."""
    px = cfg.proxmox
    pinned = {node.address: node.host_key for node in px.nodes if node.host_key}
    # The provider's SSH checks the nodes against ~/.ssh/known_hosts: the pinned keys go there
    # before it is configured (its resources wait for the provider, and it waits for this).
    known = [hostkey.known_hosts("proxmox-known-hosts", pinned)] if pinned else []
    return proxmoxve.Provider(
        "proxmox",
        opts=pulumi.ResourceOptions(depends_on=known),
        endpoint=px.endpoint,
        insecure=px.insecure,
        api_token=secrets.require("proxmoxApiToken"),
        # Typed args: a provider's nested inputs travel as JSON, and plain dict keys would stay snake_case.
        ssh=proxmoxve.ProviderSshArgs(
            username=px.ssh_user,
            private_key=secrets.require("sshPrivateKey"),
            nodes=[proxmoxve.ProviderSshNodeArgs(name=node.name, address=node.address) for node in px.nodes],
        ),
    )


def deploy(cfg: EnvironmentConfig, secrets: Secrets, hosts: HostRegistry) -> proxmoxve.Provider | None:
    """Declare the templates, VMs and containers, and add each guest to the host registry; return
    the provider for the layers that manage more on the same cluster (backups)."""
    px = cfg.proxmox
    if px is None:
        return None
    env = cfg.environment
    opts = pulumi.ResourceOptions(provider=provider(cfg, secrets))

    def nic(network_name: str | None, bridge: str | None = None) -> NetworkArgs:
        return NetworkArgs(bridge=bridge or px.bridge.name, vlan_id=pxcfg.network_of(env, px, network_name).vlan,
                           mtu=px.bridge.mtu)

    def address(ipv4: str, network_name: str | None) -> tuple[str, str | None]:
        if ipv4 == "dhcp":
            return "dhcp", None
        net = pxcfg.network_of(env, px, network_name)
        return f"{ipv4}/{net.cidr.prefixlen}", str(net.gateway)

    lab_dns = names.dns_hosts(declared_hosts(cfg))

    def dns(network_name: str | None, host: str) -> tuple[str, ...]:
        # The lab DNS first (components/dns), then the network's own resolvers.
        return names.resolvers(cfg, network_name or px.network or env.default_network, host, lab_dns)

    templates: dict[tuple[str, str], Template] = {}
    for tpl in px.templates:
        templates[(tpl.name, tpl.node)] = Template(
            f"{tpl.name}-{tpl.node}",
            TemplateArgs(
                node_name=tpl.node,
                vm_id=tpl.vm_id,
                distribution=CATALOG[tpl.distribution],
                datastore_id=px.storage.vm,
                image_datastore_id=px.storage.images,
                network=nic(None),
                cores=tpl.cores,
                memory_mb=tpl.memory_mb,
                disk_gb=tpl.disk_gb,
                tags=(env.name,),
            ),
            opts=opts,
        )

    # The shared base provisioning, one snippet per distribution, role set and node: nothing
    # host-specific (names come from per-VM meta-data, other hosts from the environment's DNS), so
    # editing one VM never touches the file or the other VMs.
    user_data_snippets: dict[tuple[str, tuple[str, ...], tuple[str, ...], str], Snippet] = {}

    def user_data_on(distribution: str, roles: tuple[str, ...], node: str, extra: tuple[str, ...] = ()) -> Snippet:
        # The groups' extra packages (environment.packages) make their own snippet variant.
        key = (distribution, roles, extra, node)
        if key not in user_data_snippets:
            spec = ProvisionSpec(
                distribution=CATALOG[distribution],
                user=env.operator.name,
                ssh_authorized_keys=tuple(env.operator.ssh_authorized_keys),
                timezone=env.timezone,
                shell=env.operator.shell,
                roles=roles,
                extra_packages=extra,
            )
            variant = "-".join((distribution, *roles, *([package_variant(extra)] if extra else [])))
            user_data_snippets[key] = Snippet(
                f"user-data-{variant}-{node}",
                SnippetArgs(node_name=node, datastore_id=px.storage.snippets,
                            file_name=f"homelab-{env.name}-{variant}-user-data.yaml", content=shared_user_data(spec)),
                opts=opts,
            )
        return user_data_snippets[key]

    private_key = secrets.require("sshPrivateKey")
    for vm in px.vms:
        node = pxcfg.vm_node(px, vm)
        tpl = px.template_for(vm, node)
        source = templates[(tpl.name, tpl.node)]
        ipv4, gateway = address(vm.ipv4, vm.network)
        roles = host_roles(cfg, vm.name, vm.groups)
        extra = env.packages_for(vm.groups, CATALOG[tpl.distribution].family)
        # Every node the VM can run on (shared disks: all of them) gets its snippets, so that a
        # migrated or HA-restarted VM finds them where Proxmox rebuilds its cloud-init drive.
        runs_on = px.template_nodes(vm.template) if px.storage.shared else (node,)
        for other in runs_on:
            user_data_on(tpl.distribution, roles, other, extra)
        user_data = user_data_on(tpl.distribution, roles, node, extra)
        guest = Vm(
            vm.name,
            VmArgs(
                hostname=vm.name,
                fqdn=env.fqdn(vm.name),
                node_name=node,
                vm_id=vm.vm_id,
                template_vm_id=source.vm_id,
                template_node_name=tpl.node,
                datastore_id=vm.datastore or px.storage.vm,
                snippets_datastore_id=px.storage.snippets,
                user_data_file_id=user_data.file_id,
                user_data_file=user_data.file,
                other_nodes=tuple(n for n in runs_on if n != node),
                network=nic(vm.network, vm.bridge),
                ipv4=ipv4,
                gateway=gateway,
                dns_domain=env.domain,
                dns_servers=dns(vm.network, vm.name),
                cores=vm.cores,
                memory_mb=vm.memory_mb,
                disk_gb=vm.disk_gb,
                os_type=CATALOG[tpl.distribution].os_type,
                on_boot=vm.on_boot,
                tags=(env.name, tpl.distribution, *vm.tags),
                protect=env.production,
            ),
            opts=opts,
        )
        address_of = vm.ipv4 if vm.ipv4 != "dhcp" else guest.ipv4
        host = Host(
            name=vm.name,
            fqdn=env.fqdn(vm.name),
            platform=pxcfg.PLATFORM_VM,
            distribution=tpl.distribution,
            address=address_of,
            ssh_user=env.operator.name,
            groups=vm.groups,
            # Recorded on first contact (cloud-init generates it at first boot), enforced after.
            host_key=hostkey.recorded_host_key(vm.name, address_of, machine=[guest.vm], parent=guest),
        )
        # Later layers wait for a provisioned host, not a booted one: cloud-init has finished.
        ready = ssh.command(
            f"{vm.name}-ready",
            connection=connection(host, private_key),
            create=CLOUD_INIT_WAIT,
            # A new VM (a real replacement) is waited for again: its MAC addresses are new (Proxmox
            # generates them on creation), while its id is the VMID and stays the same.
            triggers=[guest.vm.mac_addresses],
            # A static address is plain config: only this option orders the wait after the VM.
            opts=pulumi.ResourceOptions(parent=guest, depends_on=[guest.vm]),
        )
        provisioned = reprovision(f"{vm.name}-provision", host, private_key, guest, ready,
                                  provision_spec(cfg, vm.name, tpl.distribution, pxcfg.PLATFORM_VM, vm.groups,
                                                 with_hosts_entries=False))
        hosts.add(dataclasses.replace(host, ready=(ready, provisioned), machine=(ready,)))

    lxc_images: dict[tuple[str, str], Image] = {}
    for ct in px.containers:
        node = pxcfg.container_node(px, ct)
        distro = CATALOG[ct.distribution]
        if (ct.distribution, node) not in lxc_images:
            lxc_images[(ct.distribution, node)] = Image(
                f"lxc-{ct.distribution}-{node}",
                ImageArgs(node_name=node, datastore_id=px.storage.images, image=distro.lxc_template, content_type="vztmpl"),
                opts=opts,
            )
        ipv4, gateway = address(ct.ipv4, ct.network)
        guest = Lxc(
            ct.name,
            LxcArgs(
                hostname=ct.name,
                node_name=node,
                vm_id=ct.vm_id,
                template_file_id=lxc_images[(ct.distribution, node)].file_id,
                os_type=distro.lxc_os_type,
                datastore_id=ct.datastore or px.storage.vm,
                network=nic(ct.network, ct.bridge),
                ssh_authorized_keys=tuple(env.operator.ssh_authorized_keys),
                ipv4=ipv4,
                gateway=gateway,
                dns_domain=env.domain,
                dns_servers=dns(ct.network, ct.name),
                cores=ct.cores,
                memory_mb=ct.memory_mb,
                swap_mb=ct.swap_mb,
                disk_gb=ct.disk_gb,
                unprivileged=ct.unprivileged,
                nesting=ct.nesting,
                on_boot=ct.on_boot,
                tags=(env.name, ct.distribution, "lxc", *ct.tags),
                protect=env.production,
            ),
            opts=opts,
        )
        ct_address = ct.ipv4 if ct.ipv4 != "dhcp" else guest.ipv4
        host = Host(
            name=ct.name,
            fqdn=env.fqdn(ct.name),
            platform=pxcfg.PLATFORM_LXC,
            distribution=ct.distribution,
            address=ct_address,
            ssh_user=LXC_SSH_USER,
            ready=(guest.container,),
            groups=ct.groups,
            host_key=hostkey.recorded_host_key(ct.name, ct_address, machine=[guest.container], parent=guest),
        )
        # A container is reached as root (Proxmox puts the operator keys in root's authorized_keys
        # only), so its provisioning keeps root's key login; passwords stay off
        # (tests/test_root_login.py). Like a VM, it is provisioned again when the script changes.
        provisioned = reprovision(f"{ct.name}-provision", host, private_key, guest, guest.container,
                                  provision_spec(cfg, ct.name, ct.distribution, pxcfg.PLATFORM_LXC, ct.groups,
                                                 with_hosts_entries=False), disable_root=False)
        hosts.add(dataclasses.replace(host, ready=(guest.container, provisioned), machine=(guest.container,)))
    return opts.provider


def reprovision(name: str, host: Host, private_key: pulumi.Input[str], parent: pulumi.Resource,
                after: pulumi.Resource, spec: ProvisionSpec, disable_root: bool = True) -> remote.Command:
    """provision.sh over SSH after the guest is up, and again (an update) whenever it changes.

    The cloud-init files of a running guest are read once per instance: a package, the timezone or
    a rotated operator key reaches an existing guest only this way (the same idempotent script the
    SSH-provisioned Linodes and onboarded hosts run). Script on stdin, same command on update."""
    command = ssh.as_root(["bash", "-s"], host.ssh_user)
    return ssh.command(
        name,
        connection=connection(host, private_key),
        create=command,
        update=command,
        stdin=provision_script(spec, disable_root=disable_root),
        # A new guest (its readiness check re-created) is provisioned again.
        triggers=[after.id],
        # SSH works once cloud-init has finished (or the container runs); the trigger is an id only.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[after]),
    )
