"""The lxc/incus binding: tokens, property names against the provider schema, package registration."""

from __future__ import annotations

import base64
import inspect
import json

import pulumi
import pytest
import yaml
from pulumi import _types

from components.incus import binding, schema
from synth import conformance
from tests.conftest import ROOT, registered

BOUND = {
    "incus_instance": binding.Instance,
    "incus_profile": binding.Profile,
    "incus_storage_volume": binding.StorageVolume,
    "incus_network": binding.Network,
}


def _wire_names(args_cls: type) -> set[str]:
    return set(_types.input_type_py_to_pulumi_names(args_cls).values())


def _required(args_cls: type) -> set[str]:
    names = _types.input_type_py_to_pulumi_names(args_cls)
    params = list(inspect.signature(args_cls.__init__).parameters.values())[1:]
    return {names[p.name] for p in params if p.default is inspect.Parameter.empty}


def test_tokens_are_the_bridge_tokens_of_the_terraform_resources():
    assert {tf: cls.TOKEN for tf, cls in BOUND.items()} == {
        "incus_instance": "incus:index/instance:Instance",
        "incus_profile": "incus:index/profile:Profile",
        "incus_storage_volume": "incus:index/storageVolume:StorageVolume",
        "incus_network": "incus:index/network:Network",
    }
    assert all(schema.token(tf) == cls.TOKEN for tf, cls in BOUND.items())


def test_bridge_naming_rules():
    assert schema.camel("ipv4_address") == "ipv4Address"
    assert schema.camel("authentication_type") == "authenticationType"
    assert schema.plural("device") == "devices"
    assert schema.plural("wait_for") == "waitFors"
    assert schema.plural("remote") == "remotes"


@pytest.mark.parametrize("tf", sorted(BOUND))
def test_every_bound_input_is_a_schema_property_and_required_ones_agree(tf):
    args = conformance.args_class(BOUND[tf])
    props = schema.pulumi_properties(schema.RESOURCES[tf])
    settable = {name for name, kind in props.items() if kind != schema.COMPUTED}
    assert _wire_names(args) <= settable, _wire_names(args) - settable
    assert _required(args) == {name for name, kind in props.items() if kind == schema.REQUIRED}


@pytest.mark.parametrize("tf", sorted(BOUND))
def test_every_bound_output_is_a_schema_property(tf):
    outputs = set(_types.resource_pulumi_to_py_names(BOUND[tf]))
    assert outputs <= set(schema.pulumi_properties(schema.RESOURCES[tf])), outputs


def test_device_block_matches_the_schema_for_instances_and_profiles():
    for tf in ("incus_instance", "incus_profile"):
        block = schema.block_properties(schema.RESOURCES[tf])["devices"]
        assert _wire_names(binding.DeviceArgs) == set(block)
        assert _required(binding.DeviceArgs) == {k for k, v in block.items() if v == schema.REQUIRED}
        assert _types.input_type_types(conformance.args_class(BOUND[tf]))["devices"] is not None


def test_provider_configuration_matches_the_schema():
    props = schema.pulumi_properties(schema.PROVIDER)
    assert _wire_names(binding.ProviderArgs) == set(props)
    remote = schema.block_properties(schema.PROVIDER)["remotes"]
    # Every remote property the binding sends is the provider's (it need not bind them all).
    assert _wire_names(binding.ProviderRemoteArgs) <= set(remote)
    assert _required(binding.ProviderRemoteArgs) == {"name"}


def test_parameter_value_is_the_bridge_value_for_the_pinned_release():
    assert binding.parameter_value() == b'{"remote":{"url":"registry.opentofu.org/lxc/incus","version":"1.1.1"}}'
    assert json.loads(base64.b64decode(binding.base64_parameter())) == {
        "remote": {"url": "registry.opentofu.org/lxc/incus", "version": binding.PROVIDER_VERSION}}


def test_pulumi_yaml_records_the_package_as_pulumi_package_add_does():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["packages"]["incus"] == {
        "source": "terraform-provider",
        "version": binding.BASE_PROVIDER_VERSION,
        "parameters": ["lxc/incus", binding.PROVIDER_VERSION],
    }
    assert project["packages"] | binding.pulumi_yaml_package() == project["packages"]


@pulumi.runtime.test
def test_resources_register_the_parameterized_package_and_carry_its_reference(monkeypatch):
    monitor = pulumi.runtime.settings.get_monitor()
    packages, refs = [], {}
    original_package, original_register = monitor.RegisterPackage, monitor.RegisterResource

    def register_package(request):
        packages.append(request)
        return original_package(request)

    def register_resource(request):
        refs[request.name] = (request.type, request.packageRef)
        return original_register(request)

    monkeypatch.setattr(monitor, "RegisterPackage", register_package)
    monkeypatch.setattr(monitor, "RegisterResource", register_resource)
    pulumi.runtime.settings.SETTINGS.package_refs.fget().clear()  # a dict-valued context property
    provider = binding.Provider("pkgtest-provider", binding.ProviderArgs(
        remotes=[binding.ProviderRemoteArgs(name="iapetus", address="https://10.0.0.2:8443")],
        default_remote="iapetus"))
    profile = binding.Profile("pkgtest-profile", binding.ProfileArgs(name="homelab-x"),
                              opts=pulumi.ResourceOptions(provider=provider))

    def check(_):
        assert len(packages) == 1
        request = packages[0]
        assert (request.name, request.version) == ("terraform-provider", binding.BASE_PROVIDER_VERSION)
        assert request.parameterization.name == "incus"
        assert request.parameterization.version == binding.PROVIDER_VERSION
        assert request.parameterization.value == binding.parameter_value()
        assert refs["pkgtest-provider"] == ("pulumi:providers:incus", "mock-uuid")
        assert refs["pkgtest-profile"] == ("incus:index/profile:Profile", "mock-uuid")
        [record] = registered("pkgtest-profile")
        assert record["provider"].endswith("pulumi:providers:incus::pkgtest-provider")

    return profile.urn.apply(check)


@pulumi.runtime.test
def test_provider_configuration_is_json_encoded_and_the_token_stays_secret():
    provider = binding.Provider("jsontest-provider", binding.ProviderArgs(
        remotes=[binding.ProviderRemoteArgs(name="cluster01", address="https://10.0.0.3:8443",
                                            token=pulumi.Output.secret("trust-token-value"))],
        default_remote="cluster01", accept_remote_certificate=True))

    def check(_):
        [record] = registered("jsontest-provider")
        assert record["type"] == "pulumi:providers:incus"
        assert record["inputs"]["remotes"] == "[secret]"
        assert record["inputs"]["acceptRemoteCertificate"] == "true"
        assert conformance.check([record]) == []

    return provider.urn.apply(check)


def _record(type_: str, inputs: dict) -> dict:
    return {"urn": f"urn:pulumi:test::homelab::{type_}::x", "type": type_, "name": "x", "custom": True,
            "inputs": inputs}


def test_conformance_knows_the_incus_types_and_finds_misspelt_keys():
    problems = conformance.check([
        _record("incus:index/instance:Instance", {
            "name": "mosquitto", "profile": ["homelab-base"],
            "devices": [{"name": "mqtt", "type": "proxy", "propertes": {}}]}),
        _record("incus:index/storageVolume:StorageVolume", {"name": "mosquitto-data"}),
    ])
    assert problems == [
        "incus:index/instance:Instance x.devices[0].propertes: not a property of DeviceArgs; "
        "did you mean 'properties'?",
        "incus:index/instance:Instance x.devices[0].properties: required property of DeviceArgs is missing",
        "incus:index/instance:Instance x.profile: not a property of InstanceArgs; did you mean 'profiles'?",
        "incus:index/storageVolume:StorageVolume x.pool: required property of StorageVolumeArgs is missing",
    ]


def test_resource_class_rejects_the_wrong_args_type():
    with pytest.raises(TypeError, match="Instance expects InstanceArgs, got ProfileArgs"):
        binding.Instance("wrong", binding.ProfileArgs(name="x"))


def test_provider_schema_is_the_one_of_lxc_incus_1_1_1():
    # lxc/terraform-provider-incus v1.1.1 internal/provider/provider.go: these attributes and the
    # `remote` block, no provider-level `project` (projects are chosen per resource).
    assert set(schema.PROVIDER.attributes) == {"config_dir", "generate_client_certificates",
                                               "accept_remote_certificate", "default_remote"}
    assert "project" not in _wire_names(binding.ProviderArgs)
    assert set(schema.PROVIDER.blocks["remote"]) <= {"name", "address", "protocol", "credentials_helper", "public",
                                                      "authentication_type", "token"}


# Tags of github.com/pulumi/pulumi-terraform-provider (releases of the base provider's plugin) from
# v1.0.0 on, as published when this was checked; there is no 1.4.0.
PUBLISHED_BASE_PROVIDER = {"1.0.0", "1.0.1", "1.0.2", "1.1.0", "1.1.1", "1.1.2", "1.1.3"}


def test_the_base_provider_version_is_a_published_release():
    assert binding.BASE_PROVIDER_VERSION in PUBLISHED_BASE_PROVIDER
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["packages"]["incus"]["version"] == binding.BASE_PROVIDER_VERSION
