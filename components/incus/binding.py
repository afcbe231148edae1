# A small, hand-written typed binding of the lxc/incus Terraform provider as Pulumi's
# `terraform-provider` bridge exposes it (a parameterized package; see README.md in this folder).
#
# It has the shape `pulumi package add terraform-provider lxc/incus <version>` generates for Python:
# `@pulumi.input_type` argument classes whose getters carry the bridged (camelCase) property names,
# CustomResource classes with the `incus:index/...` tokens, and a `package_ref` that registers the
# parameterized package with the engine so `pulumi up` hands these resources to the lxc/incus
# provider. Only the resources and properties this project uses are bound; `schema.py` holds the
# provider schema as read from its source at the pinned release (provider-facts.json) and the tests
# check this binding against it.
"""Typed Pulumi binding of the lxc/incus Terraform provider (resources, input types, package)."""

import base64
import json
from collections.abc import Awaitable
from typing import Mapping, Optional, Sequence

import pulumi
from pulumi.runtime import register_package

# ---- the package ---------------------------------------------------------------------------------

PACKAGE = "incus"
#: The lxc/incus Terraform provider release this binding is written against.
PROVIDER_SOURCE = "lxc/incus"
# renovate: datasource=terraform-provider depName=lxc/incus
PROVIDER_VERSION = "1.1.1"
#: Where the bridge resolves `lxc/incus` (OpenTofu's registry is its default registry).
PROVIDER_URL = "registry.opentofu.org/lxc/incus"
#: The base provider serving every parameterized Terraform package, and its pinned release: a
#: published tag of github.com/pulumi/pulumi-terraform-provider (its releases carry the plugin
#: `pulumi install` downloads; v1.1.3 is the newest published, there is no 1.4.0).
BASE_PROVIDER = "terraform-provider"
# renovate: datasource=github-releases depName=pulumi/pulumi-terraform-provider extractVersion=^v(?<version>.+)$
BASE_PROVIDER_VERSION = "1.1.3"


def parameter_value() -> bytes:
    """The parameter value the bridge embeds in generated SDKs (pulumi-terraform-bridge
    `dynamic/parameterize/value.go`: Go's compact `json.Marshal` of `{"remote": {url, version}}`)."""
    value = {"remote": {"url": PROVIDER_URL, "version": PROVIDER_VERSION}}
    return json.dumps(value, separators=(",", ":")).encode()


def base64_parameter() -> str:
    return base64.b64encode(parameter_value()).decode()


def pulumi_yaml_package() -> dict:
    """The `packages:` entry `pulumi package add terraform-provider lxc/incus <version>` records."""
    return {PACKAGE: {"source": BASE_PROVIDER, "version": BASE_PROVIDER_VERSION,
                      "parameters": [PROVIDER_SOURCE, PROVIDER_VERSION]}}


async def _register() -> str:
    # register_package caches the reference per deployment, so every resource shares one package.
    return await register_package(
        base_provider_name=BASE_PROVIDER,
        base_provider_version=BASE_PROVIDER_VERSION,
        base_provider_download_url="",
        package_name=PACKAGE,
        package_version=PROVIDER_VERSION,
        base64_parameter=base64_parameter(),
    )


def package_ref() -> Awaitable[str]:
    """A fresh awaitable of the package reference for one resource registration."""
    return _register()


# ---- provider ------------------------------------------------------------------------------------


@pulumi.input_type
class ProviderRemoteArgs:
    """One `remote` block of the provider configuration."""

    def __init__(__self__, *, name: pulumi.Input[str],
                 address: Optional[pulumi.Input[str]] = None,
                 protocol: Optional[pulumi.Input[str]] = None,
                 authentication_type: Optional[pulumi.Input[str]] = None,
                 token: Optional[pulumi.Input[str]] = None,
                 public: Optional[pulumi.Input[bool]] = None):
        pulumi.set(__self__, "name", name)
        for key, value in (("address", address), ("protocol", protocol),
                           ("authentication_type", authentication_type), ("token", token), ("public", public)):
            if value is not None:
                pulumi.set(__self__, key, value)

    @property
    @pulumi.getter
    def name(self) -> pulumi.Input[str]:
        return pulumi.get(self, "name")

    @property
    @pulumi.getter
    def address(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "address")

    @property
    @pulumi.getter
    def protocol(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "protocol")

    @property
    @pulumi.getter(name="authenticationType")
    def authentication_type(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "authentication_type")

    @property
    @pulumi.getter
    def token(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "token")

    @property
    @pulumi.getter
    def public(self) -> Optional[pulumi.Input[bool]]:
        return pulumi.get(self, "public")


@pulumi.input_type
class ProviderArgs:
    """The provider configuration (attributes and `remote` blocks). lxc/incus 1.1.1 has no provider-level
    `project` (internal/provider/provider.go): each resource carries its own."""

    def __init__(__self__, *,
                 remotes: Optional[pulumi.Input[Sequence[pulumi.Input[ProviderRemoteArgs]]]] = None,
                 default_remote: Optional[pulumi.Input[str]] = None,
                 config_dir: Optional[pulumi.Input[str]] = None,
                 accept_remote_certificate: Optional[pulumi.Input[bool]] = None,
                 generate_client_certificates: Optional[pulumi.Input[bool]] = None):
        for key, value in (("remotes", remotes), ("default_remote", default_remote), ("config_dir", config_dir),
                           ("accept_remote_certificate", accept_remote_certificate),
                           ("generate_client_certificates", generate_client_certificates)):
            if value is not None:
                pulumi.set(__self__, key, value)

    @property
    @pulumi.getter
    def remotes(self) -> Optional[pulumi.Input[Sequence[pulumi.Input[ProviderRemoteArgs]]]]:
        return pulumi.get(self, "remotes")

    @property
    @pulumi.getter(name="defaultRemote")
    def default_remote(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "default_remote")

    @property
    @pulumi.getter(name="configDir")
    def config_dir(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "config_dir")

    @property
    @pulumi.getter(name="acceptRemoteCertificate")
    def accept_remote_certificate(self) -> Optional[pulumi.Input[bool]]:
        return pulumi.get(self, "accept_remote_certificate")

    @property
    @pulumi.getter(name="generateClientCertificates")
    def generate_client_certificates(self) -> Optional[pulumi.Input[bool]]:
        return pulumi.get(self, "generate_client_certificates")


class Provider(pulumi.ProviderResource):
    """An explicit lxc/incus provider (`pulumi:providers:incus`), e.g. one per Incus remote."""

    def __init__(self, resource_name: str, args: ProviderArgs, opts: Optional[pulumi.ResourceOptions] = None):
        props = ProviderArgs.__new__(ProviderArgs)
        for key in ("default_remote", "config_dir"):
            props.__dict__[key] = getattr(args, key)
        # As in generated SDKs: the engine hands provider configuration to the bridge as JSON strings
        # for every non-string value (nested blocks and booleans).
        for key in ("remotes", "accept_remote_certificate", "generate_client_certificates"):
            value = getattr(args, key)
            props.__dict__[key] = (None if value is None
                                   else pulumi.Output.from_input(value).apply(pulumi.runtime.to_json))
        super().__init__(PACKAGE, resource_name, props, opts, package_ref=package_ref())


# ---- devices (instances and profiles) ------------------------------------------------------------


@pulumi.input_type
class DeviceArgs:
    """One `device` block: name, type and its Incus device properties."""

    def __init__(__self__, *, name: pulumi.Input[str], type: pulumi.Input[str],
                 properties: pulumi.Input[Mapping[str, pulumi.Input[str]]]):
        pulumi.set(__self__, "name", name)
        pulumi.set(__self__, "type", type)
        pulumi.set(__self__, "properties", properties)

    @property
    @pulumi.getter
    def name(self) -> pulumi.Input[str]:
        return pulumi.get(self, "name")

    @property
    @pulumi.getter
    def type(self) -> pulumi.Input[str]:
        return pulumi.get(self, "type")

    @property
    @pulumi.getter
    def properties(self) -> pulumi.Input[Mapping[str, pulumi.Input[str]]]:
        return pulumi.get(self, "properties")


# Generated SDKs name the nested types per resource; both resources share the same block schema.
InstanceDeviceArgs = DeviceArgs
ProfileDeviceArgs = DeviceArgs


class _Common:
    """Getters shared by the argument types: name, description, config, project, remote."""

    @property
    @pulumi.getter
    def name(self) -> pulumi.Input[str]:
        return pulumi.get(self, "name")

    @property
    @pulumi.getter
    def description(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "description")

    @property
    @pulumi.getter
    def config(self) -> Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]]:
        return pulumi.get(self, "config")

    @property
    @pulumi.getter
    def project(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "project")

    @property
    @pulumi.getter
    def remote(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "remote")


def _set_all(target: object, values: dict) -> None:
    for key, value in values.items():
        if value is not None:
            pulumi.set(target, key, value)


# ---- incus_instance ------------------------------------------------------------------------------


@pulumi.input_type
class InstanceArgs(_Common):
    def __init__(__self__, *, name: pulumi.Input[str],
                 image: Optional[pulumi.Input[str]] = None,
                 type: Optional[pulumi.Input[str]] = None,
                 description: Optional[pulumi.Input[str]] = None,
                 profiles: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
                 devices: Optional[pulumi.Input[Sequence[pulumi.Input[DeviceArgs]]]] = None,
                 config: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
                 ephemeral: Optional[pulumi.Input[bool]] = None,
                 running: Optional[pulumi.Input[bool]] = None,
                 project: Optional[pulumi.Input[str]] = None,
                 remote: Optional[pulumi.Input[str]] = None,
                 target: Optional[pulumi.Input[str]] = None):
        pulumi.set(__self__, "name", name)
        _set_all(__self__, dict(image=image, type=type, description=description, profiles=profiles,
                                devices=devices, config=config, ephemeral=ephemeral, running=running,
                                project=project, remote=remote, target=target))

    @property
    @pulumi.getter
    def image(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "image")

    @property
    @pulumi.getter
    def type(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "type")

    @property
    @pulumi.getter
    def profiles(self) -> Optional[pulumi.Input[Sequence[pulumi.Input[str]]]]:
        return pulumi.get(self, "profiles")

    @property
    @pulumi.getter
    def devices(self) -> Optional[pulumi.Input[Sequence[pulumi.Input[DeviceArgs]]]]:
        return pulumi.get(self, "devices")

    @property
    @pulumi.getter
    def ephemeral(self) -> Optional[pulumi.Input[bool]]:
        return pulumi.get(self, "ephemeral")

    @property
    @pulumi.getter
    def running(self) -> Optional[pulumi.Input[bool]]:
        return pulumi.get(self, "running")

    @property
    @pulumi.getter
    def target(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "target")


class _Resource(pulumi.CustomResource):
    """A resource of the incus package: copies its args and adds its computed outputs."""

    TOKEN: str
    ARGS: type
    OUTPUTS: tuple[str, ...] = ()

    def __init__(self, resource_name: str, args, opts: Optional[pulumi.ResourceOptions] = None):
        if not isinstance(args, self.ARGS):
            raise TypeError(f"{type(self).__name__} expects {self.ARGS.__name__}, got {type(args).__name__}")
        props = self.ARGS.__new__(self.ARGS)
        props.__dict__.update(args.__dict__)
        for output in self.OUTPUTS:
            props.__dict__.setdefault(output, None)
        super().__init__(self.TOKEN, resource_name, props, opts, package_ref=package_ref())

    @property
    @pulumi.getter
    def name(self) -> pulumi.Output[str]:
        return pulumi.get(self, "name")

    @property
    @pulumi.getter
    def remote(self) -> pulumi.Output[Optional[str]]:
        return pulumi.get(self, "remote")


class Instance(_Resource):
    """`incus_instance`: a system container, OCI application container or virtual machine."""

    TOKEN = "incus:index/instance:Instance"
    ARGS = InstanceArgs
    OUTPUTS = ("ipv4_address", "ipv6_address", "mac_address", "status")

    @property
    @pulumi.getter(name="ipv4Address")
    def ipv4_address(self) -> pulumi.Output[str]:
        return pulumi.get(self, "ipv4_address")

    @property
    @pulumi.getter(name="ipv6Address")
    def ipv6_address(self) -> pulumi.Output[str]:
        return pulumi.get(self, "ipv6_address")

    @property
    @pulumi.getter(name="macAddress")
    def mac_address(self) -> pulumi.Output[str]:
        return pulumi.get(self, "mac_address")

    @property
    @pulumi.getter
    def status(self) -> pulumi.Output[str]:
        return pulumi.get(self, "status")

    @property
    @pulumi.getter
    def target(self) -> pulumi.Output[str]:
        return pulumi.get(self, "target")

    @property
    @pulumi.getter
    def profiles(self) -> pulumi.Output[Sequence[str]]:
        return pulumi.get(self, "profiles")

    @property
    @pulumi.getter
    def config(self) -> pulumi.Output[Mapping[str, str]]:
        return pulumi.get(self, "config")


# ---- incus_profile -------------------------------------------------------------------------------


@pulumi.input_type
class ProfileArgs(_Common):
    def __init__(__self__, *, name: pulumi.Input[str],
                 description: Optional[pulumi.Input[str]] = None,
                 config: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
                 devices: Optional[pulumi.Input[Sequence[pulumi.Input[DeviceArgs]]]] = None,
                 project: Optional[pulumi.Input[str]] = None,
                 remote: Optional[pulumi.Input[str]] = None):
        pulumi.set(__self__, "name", name)
        _set_all(__self__, dict(description=description, config=config, devices=devices,
                                project=project, remote=remote))

    @property
    @pulumi.getter
    def devices(self) -> Optional[pulumi.Input[Sequence[pulumi.Input[DeviceArgs]]]]:
        return pulumi.get(self, "devices")


class Profile(_Resource):
    """`incus_profile`: config and devices instances compose (applied left to right)."""

    TOKEN = "incus:index/profile:Profile"
    ARGS = ProfileArgs

    @property
    @pulumi.getter
    def config(self) -> pulumi.Output[Mapping[str, str]]:
        return pulumi.get(self, "config")


# ---- incus_storage_volume ------------------------------------------------------------------------


@pulumi.input_type
class StorageVolumeArgs(_Common):
    def __init__(__self__, *, name: pulumi.Input[str], pool: pulumi.Input[str],
                 description: Optional[pulumi.Input[str]] = None,
                 type: Optional[pulumi.Input[str]] = None,
                 content_type: Optional[pulumi.Input[str]] = None,
                 config: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
                 project: Optional[pulumi.Input[str]] = None,
                 remote: Optional[pulumi.Input[str]] = None,
                 target: Optional[pulumi.Input[str]] = None):
        pulumi.set(__self__, "name", name)
        pulumi.set(__self__, "pool", pool)
        _set_all(__self__, dict(description=description, type=type, content_type=content_type, config=config,
                                project=project, remote=remote, target=target))

    @property
    @pulumi.getter
    def pool(self) -> pulumi.Input[str]:
        return pulumi.get(self, "pool")

    @property
    @pulumi.getter
    def type(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "type")

    @property
    @pulumi.getter(name="contentType")
    def content_type(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "content_type")

    @property
    @pulumi.getter
    def target(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "target")


class StorageVolume(_Resource):
    """`incus_storage_volume`: a custom volume in a storage pool (snapshot schedule in its config)."""

    TOKEN = "incus:index/storageVolume:StorageVolume"
    ARGS = StorageVolumeArgs
    OUTPUTS = ("location",)

    @property
    @pulumi.getter
    def pool(self) -> pulumi.Output[str]:
        return pulumi.get(self, "pool")

    @property
    @pulumi.getter
    def location(self) -> pulumi.Output[str]:
        return pulumi.get(self, "location")

    @property
    @pulumi.getter
    def config(self) -> pulumi.Output[Mapping[str, str]]:
        return pulumi.get(self, "config")


# ---- incus_network -------------------------------------------------------------------------------


@pulumi.input_type
class NetworkArgs(_Common):
    def __init__(__self__, *, name: pulumi.Input[str],
                 description: Optional[pulumi.Input[str]] = None,
                 type: Optional[pulumi.Input[str]] = None,
                 config: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
                 project: Optional[pulumi.Input[str]] = None,
                 remote: Optional[pulumi.Input[str]] = None,
                 target: Optional[pulumi.Input[str]] = None):
        pulumi.set(__self__, "name", name)
        _set_all(__self__, dict(description=description, type=type, config=config, project=project,
                                remote=remote, target=target))

    @property
    @pulumi.getter
    def type(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "type")

    @property
    @pulumi.getter
    def target(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "target")


class Network(_Resource):
    """`incus_network`: a managed network (bridge by default)."""

    TOKEN = "incus:index/network:Network"
    ARGS = NetworkArgs
    OUTPUTS = ("managed",)

    @property
    @pulumi.getter
    def managed(self) -> pulumi.Output[bool]:
        return pulumi.get(self, "managed")

    @property
    @pulumi.getter
    def type(self) -> pulumi.Output[str]:
        return pulumi.get(self, "type")


#: Type token -> resource class, for the conformance check and the mocks.
RESOURCE_TYPES: dict[str, type] = {
    cls.TOKEN: cls for cls in (Instance, Profile, StorageVolume, Network)
}
RESOURCE_TYPES[f"pulumi:providers:{PACKAGE}"] = Provider
