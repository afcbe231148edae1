"""The lxc/incus provider schema, as far as this project uses it: built from provider-facts.json,
which `provider_facts.py` reads mechanically from the provider's own source at the pinned release
(github.com/lxc/terraform-provider-incus, the `Schema(...)` of `internal/provider/provider.go`,
`internal/instance/resource_instance.go`, `internal/profile/resource_profile.go`,
`internal/storage/resource_storage_volume.go`, `internal/network/resource_network.go`), in
Terraform names; plus the bridge's naming rules that turn them into Pulumi names and tokens
(pulumi-terraform-bridge: attributes become camelCase, nested blocks that may repeat become plural
lists, resources `incus_<x>` become `incus:index/<x>:<X>`).

The binding (`binding.py`) is tested against this: a property the binding sends must exist here
under its bridged name, a required one must be required in the binding too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import provider_facts

REQUIRED, OPTIONAL, COMPUTED = "required", "optional", "computed"

DEVICE_TYPES = ("none", "disk", "nic", "unix-char", "unix-block", "usb", "gpu", "infiniband", "proxy",
                "unix-hotplug", "tpm", "pci")


@dataclass(frozen=True)
class Schema:
    """A Terraform resource (or provider) schema: attributes and repeatable nested blocks, and the
    attributes whose change forces a new resource (plan modifier `RequiresReplace`)."""

    attributes: dict[str, str]
    blocks: dict[str, dict[str, str]] = field(default_factory=dict)
    requires_replace: frozenset[str] = frozenset()


def _schema(elements: dict) -> Schema:
    return Schema(
        attributes={name: e["kind"] for name, e in elements.items() if not e.get("block")},
        blocks={name: {key: child["kind"] for key, child in e["nested"].items()}
                for name, e in elements.items() if e.get("block")},
        requires_replace=frozenset(name for name, e in elements.items() if e["requires_replace"]),
    )


FACTS = provider_facts.load()
PROVIDER = _schema(FACTS["schemas"]["provider"]["elements"])
RESOURCES: dict[str, Schema] = {name: _schema(schema["elements"])
                                 for name, schema in FACTS["schemas"].items() if name != "provider"}
# The `device` block of instances and profiles (a set of nested blocks).
DEVICE_BLOCK = RESOURCES["incus_instance"].blocks["device"]


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
