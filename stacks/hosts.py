"""What the layers hand to each other: hosts, clusters and SSH connections."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
from pulumi_command import remote

from components import hostkey


@dataclass(frozen=True)
class Host:
    """A host of any platform, ready for the layers above it once `ready` has completed."""

    name: str
    fqdn: str
    platform: str  # proxmox-vm | proxmox-lxc | linode | incus | onboard
    distribution: str | None
    address: pulumi.Input[str]
    ssh_user: str
    ready: tuple[pulumi.Resource, ...] = ()
    # Re-created exactly when the machine is (a new id = a new machine); () for hardware.
    machine: tuple[pulumi.CustomResource, ...] = ()
    groups: tuple[str, ...] = ()
    private_address: pulumi.Input[str] | None = None
    # The SSH host key every connection to the host pins (components/hostkey); None for hosts
    # nothing connects to over SSH (Incus instances behind a NAT bridge), where connection() refuses.
    host_key: pulumi.Input[str] | None = None
    # An Incus instance on a NAT bridge: the LAN cannot reach its address; `incus exec` on this
    # remote can (Ansible: community.general.incus). None: SSH to `address` works.
    incus_remote: str | None = None


@dataclass
class HostRegistry:
    """Every host of the environment, by name."""

    _hosts: dict[str, Host] = field(default_factory=dict)

    def add(self, host: Host) -> Host:
        if host.name in self._hosts:
            raise ValueError(f"host {host.name!r} registered twice")
        self._hosts[host.name] = host
        return host

    def get(self, name: str) -> Host:
        return self._hosts[name]

    def __contains__(self, name: str) -> bool:
        return name in self._hosts

    def all(self) -> list[Host]:
        return [self._hosts[name] for name in sorted(self._hosts)]


@dataclass(frozen=True)
class Cluster:
    """A Kubernetes cluster the services layers deploy to."""

    name: str
    api_endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]  # secret
    provider: k8s.Provider
    version: str


def connection(host: Host, private_key: pulumi.Input[str]) -> remote.ConnectionArgs:
    """SSH to a host as its provisioning user with the environment's private key, its host key pinned."""
    if host.host_key is None:
        raise ValueError(f"host {host.name}: no SSH host key to pin; every SSH connection pins one")
    return hostkey.connection(host.address, host.ssh_user, private_key, host.host_key)
