"""The Incus layer in the whole program: lothlorien's synth shows its remotes, profiles and containers."""

from __future__ import annotations

import json

import yaml

from tests.helpers import named, some

INSTANCE = "incus:index/instance:Instance"
VOLUME = "incus:index/storageVolume:StorageVolume"
PROFILE = "incus:index/profile:Profile"
PROVIDER = "pulumi:providers:incus"


def _instances(run) -> dict[str, dict]:
    return {r["inputs"]["name"]: r for r in run.of_type(INSTANCE)}


def test_lothlorien_runs_the_seed_containers_on_its_two_remotes(synth_result):
    run = synth_result("lothlorien")
    instances = _instances(run)
    assert sorted(instances) == ["atlantis", "coredns", "mosquitto"]
    providers = {r["name"]: r for r in run.of_type(PROVIDER)}
    assert sorted(providers) == ["incus-cluster01", "incus-iapetus"]
    where = {name: r["provider"].rsplit("::", 1)[-1] for name, r in instances.items()}
    assert where == {"atlantis": "incus-iapetus", "coredns": "incus-cluster01", "mosquitto": "incus-cluster01"}
    # Incus has no tags: the environment goes into a user key, where the policy pack looks for it.
    assert {r["inputs"]["config"]["user.environment"] for r in instances.values()} == {"lothlorien"}


def test_every_instance_gets_base_plus_exactly_one_network_profile_never_default(synth_result):
    run = synth_result("lothlorien")
    profiles = {name: r["inputs"]["profiles"] for name, r in _instances(run).items()}
    assert profiles == {
        "atlantis": ["homelab-base", "homelab-gitops"],
        "coredns": ["homelab-base", "homelab-lan"],
        "mosquitto": ["homelab-base", "homelab-lan"],
    }
    by_remote: dict[str, set[str]] = {}
    for r in run.of_type(PROFILE):
        by_remote.setdefault(r["provider"].rsplit("::", 1)[-1], set()).add(r["inputs"]["name"])
    # Each remote gets the networks (and their profiles) its own instances use, not every network.
    assert by_remote == {
        "incus-iapetus": {"homelab-base", "homelab-gitops"},
        "incus-cluster01": {"homelab-base", "homelab-lan"},  # the NAT bridges nobody there uses: not created
    }


def test_mosquitto_is_on_the_lan_without_proxies_and_keeps_its_data(synth_result):
    run = synth_result("lothlorien")
    mosquitto = _instances(run)["mosquitto"]
    devices = {d["name"]: d for d in mosquitto["inputs"]["devices"]}
    # Nothing the program configures listens inside a system container: no proxy device publishes it.
    proxies = [d["name"] for r in _instances(run).values() for d in r["inputs"]["devices"] if d["type"] == "proxy"]
    assert proxies == []
    assert sorted(devices) == ["data", "root"]  # no proxy, no eth0 override: cloud-init sets the address
    assert yaml.safe_load(mosquitto["inputs"]["config"]["cloud-init.network-config"])["ethernets"]["eth0"][
        "addresses"] == ["10.50.0.54/24"]
    assert devices["data"]["properties"] == {"path": "/var/lib/mosquitto", "pool": "ceph", "source": "mosquitto-data"}
    volume = next(r for r in run.of_type(VOLUME) if r["inputs"]["name"] == "mosquitto-data")
    assert volume["inputs"]["config"]["snapshots.schedule"] == "0 2 * * *"


def test_production_protects_instances_and_keeps_data_volumes(synth_result):
    run = synth_result("lothlorien")
    instances = named(run.of_type(INSTANCE), ("atlantis", "coredns", "mosquitto"), "Incus instances",
                      key=lambda r: r["inputs"]["name"])
    assert all(r["options"]["protect"] for r in instances)
    volumes = run.of_type(VOLUME)
    assert sorted(r["inputs"]["name"] for r in volumes) == ["atlantis-data", "mosquitto-data"]
    assert all(r["options"]["protect"] and r["options"]["retain_on_delete"] for r in volumes)
    atlantis = next(r for r in volumes if r["inputs"]["name"] == "atlantis-data")
    assert atlantis["inputs"]["config"]["snapshots.schedule"] == "@daily"
    assert atlantis["inputs"]["config"]["snapshots.expiry"] == "2w"


def test_certificate_remotes_carry_no_secret_and_generate_no_certificate(synth_result):
    """Both of lothlorien's remotes trust a client certificate (CI writes it from the environment's
    secrets): no one-time token, which a fresh runner could not use after the first up."""
    run = synth_result("lothlorien")
    providers = {r["name"]: r["inputs"] for r in run.of_type(PROVIDER)}
    iapetus = json.loads(providers["incus-iapetus"]["remotes"])
    assert iapetus[0] == {"name": "iapetus", "address": "https://10.50.0.40:8443", "protocol": "incus",
                          "authenticationType": "tls"}
    assert providers["incus-iapetus"].get("generateClientCertificates") in (None, "false", False)
    remotes = json.loads(providers["incus-cluster01"]["remotes"])
    assert remotes == [
        {"name": "cluster01", "address": "https://10.50.0.41:8443", "protocol": "incus", "authenticationType": "tls"},
        {"name": "ghcr", "address": "https://ghcr.io", "protocol": "oci", "public": True},
    ]
    assert providers["incus-cluster01"]["configDir"] == "$HOME/.config/incus"


def test_system_containers_get_the_shared_cloud_init_and_oci_does_not(synth_result):
    run = synth_result("lothlorien")
    files = run.artifacts
    assert sorted(p for p in files if p.startswith("incus/")) == [
        "incus/incus-coredns-instance.network-config.yaml", "incus/incus-coredns-instance.user-data.yaml",
        "incus/incus-mosquitto-instance.network-config.yaml", "incus/incus-mosquitto-instance.user-data.yaml"]
    doc = yaml.safe_load(files["incus/incus-mosquitto-instance.user-data.yaml"])
    assert doc["hostname"] == "mosquitto" and doc["ssh_pwauth"] is False and doc["disable_root"] is True
    assert "qemu-guest-agent" not in doc["packages"]
    atlantis = _instances(run)["atlantis"]["inputs"]
    assert atlantis["image"] == "ghcr:runatlantis/atlantis:v0.35.0"
    assert "cloud-init.user-data" not in atlantis["config"]


def test_incus_instances_join_the_inventory(synth_result):
    run = synth_result("lothlorien")
    inventory = {h["name"]: h for h in run.outputs["inventory"] if h["platform"] == "incus"}
    assert {name: h["addresses"]["primary"] for name, h in inventory.items()} == {
        "atlantis": "10.30.0.10", "coredns": "10.50.0.53", "mosquitto": "10.50.0.54"}
    assert "incus-cluster01" in inventory["mosquitto"]["groups"]
    # On the LAN (macvlan) SSH reaches the instance; behind a NAT bridge only `incus exec` does.
    assert "connection" not in inventory["coredns"] and "connection" not in inventory["mosquitto"]
    assert inventory["atlantis"]["connection"] == {"type": "incus", "remote": "iapetus"}


def test_mirkwood_has_no_incus(synth_result):
    run = synth_result("mirkwood")
    assert not [r for r in run.resources if r["type"].startswith(("incus:", PROVIDER))]
    # the same filter finds lothlorien's: it would find mirkwood's
    some((r for r in synth_result("lothlorien").resources if r["type"].startswith(("incus:", PROVIDER))),
         "lothlorien's Incus resources")


def test_volumes_on_shared_storage_are_not_pinned_to_a_member(synth_result):
    run = synth_result("lothlorien")
    mosquitto = next(r for r in run.of_type(VOLUME) if r["inputs"]["name"] == "mosquitto-data")
    assert mosquitto["inputs"]["pool"] == "ceph" and "target" not in mosquitto["inputs"]


def test_synthesized_incus_inputs_conform_to_the_provider_schema_as_documented(synth_result):
    from components.incus import schema

    run = synth_result("lothlorien")
    by_token = {schema.token(tf): s for tf, s in schema.RESOURCES.items()}
    checked = devices = 0
    for res in run.resources:
        spec = by_token.get(res["type"])
        if spec is None:
            continue
        checked += 1
        props = schema.pulumi_properties(spec)
        settable = {k for k, v in props.items() if v != schema.COMPUTED}
        assert set(res["inputs"]) <= settable, (res["name"], set(res["inputs"]) - settable)
        assert {k for k, v in props.items() if v == schema.REQUIRED} <= set(res["inputs"]), res["name"]
        for device in res["inputs"].get("devices", []):
            devices += 1
            assert set(device) == set(schema.block_properties(spec)["devices"]), (res["name"], device)
            assert device["type"] in schema.DEVICE_TYPES
            assert all(isinstance(v, str) and v for v in device["properties"].values())  # non-empty strings
        assert all(isinstance(v, str) for v in res["inputs"].get("config", {}).values())  # a map of strings
    assert checked == 3 + 4 + 2 + 5  # instances, profiles, volumes, networks (pending members too)
    assert devices >= 4, devices  # mosquitto's root and data, atlantis's, coredns's at least
    remote_block = schema.block_properties(schema.PROVIDER)["remotes"]
    remotes = []
    for provider in named(run.of_type(PROVIDER), ("incus-cluster01", "incus-iapetus"), "Incus providers"):
        assert set(provider["inputs"]) <= set(schema.pulumi_properties(schema.PROVIDER))
        if provider["inputs"]["remotes"] != "[secret]":
            remotes += json.loads(provider["inputs"]["remotes"])
    for remote in some(remotes, "plain Incus remotes"):
        assert set(remote) <= set(remote_block) and "name" in remote
