"""Reachable Incus instances (issue #18 point 3) and proxies that do not collide with Incus (#15 point 5):
macvlan networks on the LAN with a VLAN per remote, created only where used, instances with a
cloud-init static address, the inventory's path to instances behind NAT, and proxy checks."""

from __future__ import annotations

import copy

import pulumi
import pytest
import yaml

from components.incus import Container, ContainerArgs, NetworkSpec, Site, SiteArgs, binding
from components.incus.container import devices, instance_config, static_network_config
from stacks import ansible_inventory
from stacks.config import loader
from synth.engine import synth_config
from tests.conftest import registered

MACVLAN = NetworkSpec("lan", "10.50.0.0/24", type="macvlan", parent="eno1", vlan=50,
                      member_parents={"n1": "eno1", "n2": "bond0"})


def _provider(name: str) -> pulumi.ResourceOptions:
    provider = binding.Provider(f"{name}-provider", binding.ProviderArgs(
        remotes=[binding.ProviderRemoteArgs(name=name, address="https://10.0.0.9:8443")], default_remote=name))
    return pulumi.ResourceOptions(providers={"incus": provider})


def test_macvlan_network_config_standalone_and_per_member():
    assert MACVLAN.config() == {"parent": "eno1", "vlan": "50"}
    assert MACVLAN.cluster_config() == {"vlan": "50"}  # `parent` is member-specific in a cluster
    assert MACVLAN.member_config("n2") == {"parent": "bond0"}
    assert NetworkSpec("nat", "10.10.0.0/24").member_config("n1") is None


@pulumi.runtime.test
def test_a_cluster_defines_the_macvlan_uplink_on_each_member_then_the_vlan():
    site = Site("sitem", SiteArgs(remote="cluster01", networks=(MACVLAN,), members=("n1", "n2")),
                opts=_provider("sitem"))

    def check(_):
        res = {r["name"]: r for r in registered("sitem-network-")}
        assert res["sitem-network-lan-n1"]["inputs"] == {"name": "homelab-lan", "target": "n1", "type": "macvlan",
                                                         "config": {"parent": "eno1"}}
        assert res["sitem-network-lan-n2"]["inputs"]["config"] == {"parent": "bond0"}
        final = res["sitem-network-lan"]["inputs"]
        assert final["type"] == "macvlan" and final["config"] == {"vlan": "50"} and "target" not in final

    return site.network_names["lan"].apply(check)


def test_an_instance_on_macvlan_gets_its_address_from_cloud_init_not_from_the_nic():
    text = static_network_config("10.50.0.53", 24, "10.50.0.1", ["10.50.0.10", "10.50.0.1"], ["lothlorien.lan"])
    assert yaml.safe_load(text) == {"version": 2, "ethernets": {"eth0": {
        "addresses": ["10.50.0.53/24"], "routes": [{"to": "default", "via": "10.50.0.1"}],
        "nameservers": {"addresses": ["10.50.0.10", "10.50.0.1"], "search": ["lothlorien.lan"]}}}}
    args = ContainerArgs(hostname="coredns", image="images:debian/12/cloud", profiles=["homelab-base", "homelab-lan"],
                         network="homelab-lan", root_pool="ceph", address="10.50.0.53",
                         user_data="#cloud-config\n", network_config=text)
    assert instance_config(args)["cloud-init.network-config"] == text
    assert [d.name for d in devices(args)] == ["root"]  # no eth0 override with ipv4.address (bridges only)


def _problems(edit) -> list[str]:
    entries, secret_keys, _ = synth_config("lothlorien")
    entries = copy.deepcopy(entries)
    edit(entries["homelab:incus"])
    try:
        loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    except loader.ConfigError as error:
        return sorted(error.lines)
    return []


def test_proxies_on_ports_incus_uses_are_refused():
    def wildcard(incus):  # today's committed coredns (issue #15 point 5)
        incus["instances"]["mosquitto"]["proxies"] = {
            "dns-udp": {"listen": "udp:0.0.0.0:53", "connect": "udp:127.0.0.1:53"},
            "dhcp": {"listen": "udp:10.50.0.41:60-70", "connect": "udp:127.0.0.1:67"},
            "bridge": {"listen": "tcp:10.10.0.1:53", "connect": "tcp:127.0.0.1:53"},
            "api": {"listen": "tcp:10.50.0.41:8443", "connect": "tcp:127.0.0.1:8443"},
            "fine": {"listen": "tcp:10.50.0.41:53", "connect": "tcp:127.0.0.1:53"},
        }
    # A system container's proxies also forward to a service the program does not configure.
    unconfigured = [f"incus.instances.mosquitto.proxies.{key}: forwards to a service the program does not configure "
                    "(a system container gets the base provisioning only); remove the proxy, or run the service as "
                    f"an OCI application container (kind: oci) (got '{connect}')"
                    for key, connect in [("api", "tcp:127.0.0.1:8443"), ("bridge", "tcp:127.0.0.1:53"),
                                         ("dhcp", "udp:127.0.0.1:67"), ("dns-udp", "udp:127.0.0.1:53"),
                                         ("fine", "tcp:127.0.0.1:53")]]
    assert _problems(wildcard) == sorted(unconfigured + [
        "incus.instances.mosquitto.proxies.api.listen: collides with the Incus API of cluster01 "
        "(https://10.50.0.41:8443) (got 'tcp:10.50.0.41:8443')",
        "incus.instances.mosquitto.proxies.bridge.listen: is the address of Incus network production, whose dnsmasq "
        "serves DNS on tcp port 53 (got 'tcp:10.10.0.1:53')",
        "incus.instances.mosquitto.proxies.dns-udp.listen: listens on every address of cluster01's host on udp port "
        "53, where Incus runs dnsmasq (DNS) on each managed bridge; listen on one address of the host "
        "(got 'udp:0.0.0.0:53')",
    ])


def test_macvlan_networks_and_their_instances_are_checked():
    def bad(incus):
        incus["networks"]["lan"] = {"type": "macvlan", "cidr": "10.60.0.0/24", "parent": "eno1",
                                    "parents": {"cluster09": "eth1"}}
        incus["networks"]["wan"] = {"type": "macvlan", "cidr": "10.50.0.0/24", "parent": "eno1", "vlan": 51}
        incus["instances"]["atlantis"]["network"] = "wan"
        incus["instances"]["mosquitto"].update(network="wan", address=None, proxies={})
        incus["instances"]["extra"] = {"remote": "cluster01", "network": "wan", "address": "10.50.0.1"}
        incus["instances"]["coredns"]["network"] = "production"
        incus["instances"]["coredns"]["address"] = "10.10.0.53"
    assert _problems(bad) == sorted([
        "incus.instances.atlantis.network: is a macvlan network: an OCI container cannot get its address there "
        "(no cloud-init) (got 'wan')",
        "incus.instances.coredns.network: is a NAT bridge: the program sets up the lab DNS (BIND) over SSH and the "
        "LAN uses it, neither reaches an instance there; use a macvlan network (got 'production')",
        "incus.instances.mosquitto.address: an instance on the macvlan network wan needs a fixed address of "
        "10.50.0.0/24 (set by cloud-init) (got None)",
        "incus.instances.extra.address: is the network, broadcast or bridge address of wan 10.50.0.0/24 "
        "(got '10.50.0.1')",
        "incus.networks.lan.cidr: a macvlan network is one of the environment's networks (production 10.50.0.0/24) "
        "(got '10.60.0.0/24')",
        "incus.networks.lan.parents.cluster09: is neither an Incus remote nor a cluster member (got 'cluster09')",
        "incus.networks.wan.vlan: differs from the VLAN 50 of its environment network (got 51)",
    ])
    with pytest.raises(ValueError, match="needs parent"):
        from stacks.config.incus import IncusNetwork
        IncusNetwork(type="macvlan", cidr="10.50.0.0/24")


def test_the_inventory_reaches_nat_instances_through_incus_exec():
    outputs = {"contract_version": "1", "environment": {"name": "lothlorien"}, "inventory": [
        {"name": "mosquitto", "fqdn": "mosquitto.lothlorien.lan", "addresses": {"primary": "10.10.0.10"},
         "platform": "incus", "groups": ["incus"], "ssh_user": "lavender",
         "connection": {"type": "incus", "remote": "cluster01"}},
        {"name": "coredns", "fqdn": "coredns.lothlorien.lan", "addresses": {"primary": "10.50.0.53"},
         "platform": "incus", "groups": ["incus"], "ssh_user": "lavender"}]}
    hostvars = ansible_inventory.build_inventory(outputs)["_meta"]["hostvars"]
    assert hostvars["mosquitto"]["ansible_connection"] == "community.general.incus"
    assert hostvars["mosquitto"]["ansible_incus_remote"] == "cluster01"
    assert hostvars["mosquitto"]["ansible_incus_host"] == "mosquitto"
    assert "ansible_connection" not in hostvars["coredns"]
    assert hostvars["coredns"]["ansible_host"] == "10.50.0.53"
