"""The lxc/incus provider schema, as far as this project uses it, written down from the provider's
documentation and source (github.com/lxc/terraform-provider-incus, `docs/index.md`,
`docs/resources/{instance,profile,storage_volume,network}.md`, `internal/provider/provider.go`,
`internal/instance/resource_instance.go`), in Terraform names; plus the bridge's naming rules that
turn them into Pulumi names and tokens (pulumi-terraform-bridge: attributes become camelCase, nested
blocks that may repeat become plural lists, resources `incus_<x>` become `incus:index/<x>:<X>`).

The binding (`binding.py`) is tested against this: a property the binding sends must exist here
under its bridged name, a required one must be required in the binding too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REQUIRED, OPTIONAL, COMPUTED = "required", "optional", "computed"

# The `device` block of instances and profiles (a set of nested blocks).
DEVICE_BLOCK = {"name": REQUIRED, "type": REQUIRED, "properties": REQUIRED}
DEVICE_TYPES = ("none", "disk", "nic", "unix-char", "unix-block", "usb", "gpu", "infiniband", "proxy",
                "unix-hotplug", "tpm", "pci")


@dataclass(frozen=True)
class Schema:
    """A Terraform resource (or provider) schema: attributes and repeatable nested blocks."""

    attributes: dict[str, str]
    blocks: dict[str, dict[str, str]] = field(default_factory=dict)


# lxc/terraform-provider-incus v1.1.1 internal/provider/provider.go: no provider-level `project`
# (a project is chosen per resource).
PROVIDER = Schema(
    attributes={"config_dir": OPTIONAL, "generate_client_certificates": OPTIONAL,
                "accept_remote_certificate": OPTIONAL, "default_remote": OPTIONAL},
    blocks={"remote": {"name": REQUIRED, "address": OPTIONAL, "protocol": OPTIONAL,
                       "authentication_type": OPTIONAL, "token": OPTIONAL, "public": OPTIONAL}},
)

RESOURCES: dict[str, Schema] = {
    "incus_instance": Schema(
        attributes={"name": REQUIRED, "image": OPTIONAL, "description": OPTIONAL, "type": OPTIONAL,
                    "ephemeral": OPTIONAL, "running": OPTIONAL, "profiles": OPTIONAL, "config": OPTIONAL,
                    "project": OPTIONAL, "remote": OPTIONAL, "target": OPTIONAL, "source_instance": OPTIONAL,
                    "source_file": OPTIONAL, "architecture": OPTIONAL,
                    "ipv4_address": COMPUTED, "ipv6_address": COMPUTED, "mac_address": COMPUTED,
                    "status": COMPUTED},
        blocks={"device": DEVICE_BLOCK,
                "wait_for": {"type": REQUIRED, "delay": OPTIONAL, "nic": OPTIONAL},
                "file": {"content": OPTIONAL, "source_path": OPTIONAL, "target_path": REQUIRED,
                         "uid": OPTIONAL, "gid": OPTIONAL, "mode": OPTIONAL, "create_directories": OPTIONAL}},
    ),
    "incus_profile": Schema(
        attributes={"name": REQUIRED, "description": OPTIONAL, "config": OPTIONAL, "project": OPTIONAL,
                    "remote": OPTIONAL},
        blocks={"device": DEVICE_BLOCK},
    ),
    "incus_storage_volume": Schema(
        attributes={"name": REQUIRED, "pool": REQUIRED, "description": OPTIONAL, "type": OPTIONAL,
                    "content_type": OPTIONAL, "config": OPTIONAL, "project": OPTIONAL, "remote": OPTIONAL,
                    "target": OPTIONAL, "source_volume": OPTIONAL, "source_file": OPTIONAL,
                    "location": COMPUTED},
        blocks={"file": {"target_path": REQUIRED, "content": OPTIONAL, "source_path": OPTIONAL,
                         "uid": OPTIONAL, "gid": OPTIONAL, "mode": OPTIONAL, "create_directories": OPTIONAL}},
    ),
    "incus_network": Schema(
        attributes={"name": REQUIRED, "description": OPTIONAL, "type": OPTIONAL, "config": OPTIONAL,
                    "project": OPTIONAL, "remote": OPTIONAL, "target": OPTIONAL, "managed": COMPUTED},
    ),
}


def camel(name: str) -> str:
    """The bridge's property name: snake_case to camelCase."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def plural(name: str) -> str:
    """The bridge's name for a repeatable block (`device` -> `devices`, `wait_for` -> `waitFors`)."""
    return camel(name) + ("es" if name.endswith(("s", "x", "ch", "sh")) else "s")


def token(resource: str) -> str:
    """The bridge's single-module token of a Terraform resource: incus_storage_volume ->
    incus:index/storageVolume:StorageVolume."""
    package, _, rest = resource.partition("_")
    module_member = camel(rest)
    return f"{package}:index/{module_member}:{module_member[:1].upper()}{module_member[1:]}"


def pulumi_properties(schema: Schema) -> dict[str, str]:
    """Bridged property name -> required/optional/computed (blocks are optional lists)."""
    props = {camel(name): kind for name, kind in schema.attributes.items()}
    props.update({plural(name): OPTIONAL for name in schema.blocks})
    return props


def block_properties(schema: Schema) -> dict[str, dict[str, str]]:
    """Bridged block name -> its bridged properties."""
    return {plural(name): {camel(key): kind for key, kind in block.items()} for name, block in schema.blocks.items()}
