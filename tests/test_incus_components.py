"""components/incus under Pulumi's mocks: Site (networks, profiles) and Container (instance, volume)."""

from __future__ import annotations

import pulumi
import pytest

from components.incus import Container, ContainerArgs, NetworkSpec, ProxySpec, Site, SiteArgs, VolumeSpec, binding
from components.incus.container import devices, instance_config
from tests.conftest import registered

NETWORKS = (NetworkSpec("production", "10.10.0.0/24"), NetworkSpec("management", "10.20.0.0/24"),
            NetworkSpec("gitops", "10.30.0.0/24", nat=False))


def _provider(name: str) -> pulumi.ResourceOptions:
    provider = binding.Provider(f"{name}-provider", binding.ProviderArgs(
        remotes=[binding.ProviderRemoteArgs(name=name, address="https://10.0.0.9:8443")], default_remote=name))
    return pulumi.ResourceOptions(providers={"incus": provider})


def _by_name(prefix: str) -> dict[str, dict]:
    return {r["name"]: r for r in registered(prefix)}


def test_network_spec_derives_the_bridge_config():
    assert NETWORKS[0].config() == {"ipv4.address": "10.10.0.1/24", "ipv4.nat": "true", "ipv6.address": "none"}
    assert NETWORKS[2].config()["ipv4.nat"] == "false"


@pulumi.runtime.test
def test_site_has_a_base_profile_and_one_profile_per_network():
    site = Site("sitea", SiteArgs(remote="iapetus", networks=NETWORKS,
                                  extra_profiles={"nesting": {"security.nesting": "true"}}), opts=_provider("sitea"))

    def check(_):
        res = _by_name("sitea-")
        assert sorted(n for n, r in res.items() if r["type"] == "incus:index/profile:Profile") == [
            "sitea-profile-base", "sitea-profile-gitops", "sitea-profile-management", "sitea-profile-nesting",
            "sitea-profile-production"]
        base = res["sitea-profile-base"]["inputs"]
        assert base["name"] == "homelab-base"
        assert base["config"] == {"boot.autostart": "true", "limits.cpu": "1", "limits.memory": "512MiB",
                                  "security.nesting": "false", "security.privileged": "false"}
        assert "devices" not in base
        production = res["sitea-profile-production"]["inputs"]
        assert production["devices"] == [{"name": "eth0", "type": "nic",
                                          "properties": {"name": "eth0", "network": "homelab-production"}}]
        assert res["sitea-network-production"]["inputs"]["config"]["ipv4.address"] == "10.10.0.1/24"
        # Every child talks to this remote through its provider.
        children = [r for r in res.values() if r["custom"] and r["name"] != "sitea-provider"]
        assert {r["provider"].rsplit("::", 1)[-1] for r in children} == {"sitea-provider"}

    return pulumi.Output.all(site.base_profile, *site.network_profiles.values(), site.extra_profiles["nesting"]).apply(check)


@pulumi.runtime.test
def test_site_profile_order_is_base_then_exactly_one_network_then_extras():
    site = Site("siteb", SiteArgs(remote="iapetus", networks=NETWORKS, extra_profiles={"gpu": {}}),
                opts=_provider("siteb"))

    def check(profiles):
        assert profiles == ["homelab-base", "homelab-management", "homelab-gpu"]
        assert "default" not in profiles

    return pulumi.Output.all(*site.profiles_for("management", ("gpu",))).apply(check)


@pulumi.runtime.test
def test_cluster_networks_are_first_pending_on_every_member():
    site = Site("sitec", SiteArgs(remote="cluster01", networks=NETWORKS[:1], members=("n1", "n2", "n3")),
                opts=_provider("sitec"))

    def check(_):
        res = _by_name("sitec-network-")
        pending = [res[f"sitec-network-production-{m}"] for m in ("n1", "n2", "n3")]
        assert [p["inputs"] for p in pending] == [{"name": "homelab-production", "target": m} for m in ("n1", "n2", "n3")]
        final = res["sitec-network-production"]
        assert "target" not in final["inputs"]
        assert final["dependencies"] == sorted(p["urn"] for p in pending)

    return site.network_names["production"].apply(check)


def _args(**overrides) -> ContainerArgs:
    values = dict(hostname="mosquitto", image="images:debian/12/cloud", profiles=["homelab-base", "homelab-production"],
                  network="homelab-production", root_pool="ceph", address="10.10.0.10",
                  user_data="#cloud-config\nssh_pwauth: false\n",
                  proxies=(ProxySpec("mqtt", "tcp:0.0.0.0:1883", "tcp:127.0.0.1:1883"),),
                  volume=VolumeSpec(pool="ceph", size="5GiB", path="/var/lib/mosquitto"))
    values.update(overrides)
    return ContainerArgs(**values)


@pulumi.runtime.test
def test_container_composes_profiles_devices_limits_and_cloud_init():
    box = Container("boxa", _args(cpu=2, memory="1GiB"), opts=_provider("boxa"))

    def check(_):
        inputs = _by_name("boxa-instance")["boxa-instance"]["inputs"]
        assert inputs["profiles"] == ["homelab-base", "homelab-production"]
        assert inputs["type"] == "container"
        assert inputs["config"] == {"cloud-init.user-data": "#cloud-config\nssh_pwauth: false\n",
                                    "limits.cpu": "2", "limits.memory": "1GiB"}
        assert inputs["devices"] == [
            {"name": "data", "type": "disk",
             "properties": {"path": "/var/lib/mosquitto", "pool": "ceph", "source": "mosquitto-data"}},
            {"name": "eth0", "type": "nic",
             "properties": {"ipv4.address": "10.10.0.10", "name": "eth0", "network": "homelab-production"}},
            {"name": "mqtt", "type": "proxy",
             "properties": {"connect": "tcp:127.0.0.1:1883", "listen": "tcp:0.0.0.0:1883"}},
            {"name": "root", "type": "disk", "properties": {"path": "/", "pool": "ceph", "size": "8GiB"}},
        ]

    return box.instance.urn.apply(check)


@pulumi.runtime.test
def test_data_volume_has_the_seed_snapshot_defaults_and_production_keeps_it():
    box = Container("boxb", _args(hostname="boxb", protect=True, retain_data=True), opts=_provider("boxb"))

    def check(_):
        res = _by_name("boxb-")
        volume = res["boxb-data"]
        assert volume["inputs"]["config"] == {"size": "5GiB", "snapshots.expiry": "7d",
                                              "snapshots.pattern": "snap%d", "snapshots.schedule": "0 2 * * *"}
        assert volume["inputs"]["name"] == "boxb-data"
        assert volume["options"]["protect"] is True and volume["options"]["retain_on_delete"] is True
        assert res["boxb-instance"]["options"]["protect"] is True
        assert volume["urn"] in res["boxb-instance"]["dependencies"]  # the data disk names the volume

    return box.instance.urn.apply(check)


@pulumi.runtime.test
def test_staging_container_is_easy_to_tear_down_and_dhcp_address_comes_from_incus():
    box = Container("boxc", _args(hostname="boxc", address=None, volume=None, proxies=()), opts=_provider("boxc"))

    def check(address):
        res = _by_name("boxc-")
        assert "boxc-data" not in res
        instance = res["boxc-instance"]
        assert instance["options"]["protect"] is False
        assert [d["name"] for d in instance["inputs"]["devices"]] == ["root"]
        assert address.startswith("10.255.")  # the mock's stand-in for a DHCP lease

    return box.ipv4_address.apply(check)


@pulumi.runtime.test
def test_oci_application_container_gets_no_cloud_init():
    box = Container("boxd", _args(hostname="atlantis", kind="oci", image="ghcr:runatlantis/atlantis:v0.35.0",
                                  user_data=None, volume=None, proxies=()), opts=_provider("boxd"))

    def check(_):
        inputs = _by_name("boxd-instance")["boxd-instance"]["inputs"]
        assert inputs["image"] == "ghcr:runatlantis/atlantis:v0.35.0"
        assert inputs["config"] == {"limits.cpu": "1", "limits.memory": "512MiB"}

    return box.instance.urn.apply(check)


def test_oci_container_with_user_data_is_refused():
    with pytest.raises(ValueError, match="OCI application containers take no cloud-init user-data"):
        Container("boxe", _args(kind="oci"))


def test_pure_helpers_are_deterministic():
    args = _args()
    assert instance_config(args) == instance_config(args)
    assert [d.name for d in devices(args, "v")] == ["data", "eth0", "mqtt", "root"]
    assert [d.name for d in devices(args)] == ["eth0", "mqtt", "root"]  # no volume name: no data disk


@pulumi.runtime.test
def test_volume_on_a_local_pool_follows_its_member():
    box = Container("boxf", _args(hostname="boxf", target="n2",
                                  volume=VolumeSpec(pool="local", size="1GiB", path="/srv/data", target="n2")),
                    opts=_provider("boxf"))

    def check(_):
        res = _by_name("boxf-")
        assert res["boxf-data"]["inputs"]["target"] == "n2"
        assert res["boxf-instance"]["inputs"]["target"] == "n2"

    return box.instance.urn.apply(check)


@pytest.mark.parametrize("profiles", [[], ["homelab-base"], ["default", "homelab-production"]])
def test_container_never_falls_back_to_the_default_profile(profiles):
    with pytest.raises(ValueError, match="never `default`"):
        Container("boxg", _args(profiles=profiles))
