"""The homelab guardrails as plain functions over (type, props, options).

The same functions run in two places:
- inside Pulumi (`pulumi preview/up --policy-pack policy`), adapted by `policy/pack.py`;
- offline over `build/<env>/resources.json` from `make synth`, by `policy/offline.py` (`make policy`).

Nothing here imports Pulumi or the policy SDK. Props are the engine's view of a resource's
inputs: camelCase keys, secret values masked as "[secret]" (the offline synth masks them;
the pack masks them before any rule sees them), unknown values as "[unknown]".
A rule never puts a value it judged to be a credential into its message: only the path.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the pack runs from policy/; the catalog lives in components/
    sys.path.insert(0, str(ROOT))


SECRET = "[secret]"
UNKNOWN = "[unknown]"
Enforcement = Literal["mandatory", "advisory"]

# Resource types, as the engine names them.
PVE_VM = "proxmoxve:index/vmLegacy:VmLegacy"
PVE_VM_EXPERIMENTAL = "proxmoxve:index/vm:Vm"
PVE_CLONED_VM = "proxmoxve:cloned/vm:Vm"
PVE_CT = "proxmoxve:index/containerLegacy:ContainerLegacy"
PVE_DOWNLOAD = "proxmoxve:download/file:File"
LINODE_INSTANCE = "linode:index/instance:Instance"
LINODE_VOLUME = "linode:index/volume:Volume"
INCUS_INSTANCE = "incus:index/instance:Instance"
INCUS_VOLUME = "incus:index/storageVolume:StorageVolume"
K8S_PVC = "kubernetes:core/v1:PersistentVolumeClaim"
K8S_SECRET = "kubernetes:core/v1:Secret"
COMMAND_REMOTE = "command:remote:Command"

VM_TYPES = frozenset({PVE_VM, PVE_VM_EXPERIMENTAL, PVE_CLONED_VM})
MACHINE_TYPES = VM_TYPES | {PVE_CT, LINODE_INSTANCE, INCUS_INSTANCE}
# What holds data: machines and volumes. A StatefulSet does not (its claims outlive it), so it may be replaced.
STATEFUL_TYPES = MACHINE_TYPES | {LINODE_VOLUME, INCUS_VOLUME, K8S_PVC}
DESCRIBED_TYPES = frozenset({PVE_VM, PVE_VM_EXPERIMENTAL, PVE_CLONED_VM, PVE_CT, INCUS_INSTANCE, INCUS_VOLUME,
                             "incus:index/profile:Profile", "incus:index/network:Network"})

# Rules match a resource by what it is, not by one exact type token: the providers publish several
# tokens for the same kind of thing (bpg 8.x: `index/vmLegacy:VmLegacy`, the experimental
# `index/vm:Vm` and `cloned/vm:Vm`; 6.x/7.x: `VM/virtualMachine:VirtualMachine`,
# `CT/container:Container`), and a new variant must not slip past a guard.
_PVE_VM = re.compile(r"(vm|virtualmachine)\d*(legacy)?")
_PVE_CT = re.compile(r"(container|ct|lxc)\d*(legacy)?")
_KINDS = {
    "linode": {"instance": "instance", "volume": "volume"},
    "incus": {"instance": "instance", "storagevolume": "volume", "volume": "volume"},
    "lxd": {"instance": "instance", "container": "instance", "storagevolume": "volume", "volume": "volume"},
    "kubernetes": {"persistentvolumeclaim": "claim", "secret": "secret", "secretpatch": "secret"},
}
MACHINE_KINDS = frozenset({"vm", "container", "instance"})
STATEFUL_KINDS = MACHINE_KINDS | {"volume", "claim"}


def kind_of(type_token: str) -> str | None:
    """'vm', 'container', 'instance', 'volume', 'claim', 'secret', 'download' or None, from any of a
    provider's type tokens (`package:module:Name`)."""
    parts = type_token.split(":")
    if len(parts) != 3:
        return None
    package, module, name = parts[0].lower(), parts[1].lower(), parts[2].lower()
    if package == "proxmoxve":
        if _PVE_VM.fullmatch(name):
            return "vm"
        if _PVE_CT.fullmatch(name):
            return "container"
        if module.startswith("download") or name == "downloadfile":
            return "download"
        return None
    return _KINDS.get(package, {}).get(name)


@dataclass(frozen=True)
class Options:
    """The resource options a rule may look at (the engine's names, snake_case)."""

    protect: bool = False
    retain_on_delete: bool = False
    ignore_changes: tuple[str, ...] = ()
    delete_before_replace: bool = False
    additional_secret_outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resource:
    """One resource as a rule sees it."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    options: Options = field(default_factory=Options)
    parent: str | None = None

    @property
    def stack(self) -> str:
        """The stack (environment) name, from the URN: urn:pulumi:<stack>::<project>::<type>::<name>."""
        parts = self.urn.split(":", 3)
        return parts[2] if len(parts) > 2 and parts[0] == "urn" else ""

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Resource:
        """From one entry of build/<env>/resources.json."""
        opts = record.get("options") or {}
        return cls(
            type=record["type"],
            name=record["name"],
            urn=record["urn"],
            props=record.get("inputs") or {},
            options=Options(
                protect=bool(opts.get("protect", False)),
                retain_on_delete=bool(opts.get("retain_on_delete", False)),
                ignore_changes=tuple(opts.get("ignore_changes") or ()),
                delete_before_replace=bool(opts.get("delete_before_replace", False)),
                additional_secret_outputs=tuple(opts.get("additional_secret_outputs") or ()),
            ),
            parent=record.get("parent"),
        )


@dataclass(frozen=True)
class Environment:
    name: str
    production: bool


def environment(stack: str) -> Environment:
    """The environment a stack deploys. Production is decided by the pack's own config
    (`policy/stacks.yaml`, shared with the config loader), never by the stack file a pull request
    could edit; the environment's name is the stack's (the loader refuses any other)."""
    from policy.stacks import is_production

    return Environment(name=stack, production=is_production(stack))


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a mapping; {} for a masked secret, an unknown or anything else."""
    return value if isinstance(value, Mapping) else {}


def known(value: Any) -> bool:
    return value is not None and value != UNKNOWN


def walk(value: Any, path: str = "", key: str = "") -> Iterable[tuple[str, str, Any]]:
    """Every value below `value` as (dotted path, its own key, value); list items keep their list's key."""
    if isinstance(value, Mapping):
        for child_key in sorted(value, key=str):
            child = f"{path}.{child_key}" if path else str(child_key)
            yield child, str(child_key), value[child_key]
            yield from walk(value[child_key], child, str(child_key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            child = f"{path}[{index}]"
            yield child, key, item
            yield from walk(item, child, key)


def strings(value: Any) -> Iterable[tuple[str, str, str]]:
    for path, key, leaf in walk(value):
        if isinstance(leaf, str):
            yield path, key, leaf


def _disks(resource: Resource) -> list[Mapping[str, Any]]:
    disks = resource.props.get("disks")
    return [mapping(disk) for disk in disks] if isinstance(disks, (list, tuple)) else []


def is_template(resource: Resource) -> bool:
    """A catalog template, which holds nothing but a catalog image and is rebuilt on purpose.

    The `template` flag alone proves nothing (any VM can set it to escape protection): the VM must
    also clone nothing, never start, and have every disk imported from a catalog image."""
    props = resource.props
    if kind_of(resource.type) != "vm" or props.get("template") is not True:
        return False
    if props.get("clone") is not None or props.get("started") is True:
        return False
    names = catalog_file_names()
    disks = _disks(resource)
    return bool(disks) and all(
        any(isinstance(disk.get(key), str) and _file_part(disk[key]) in names for key in ("importFrom", "fileId"))
        for disk in disks)


# --- mandatory ----------------------------------------------------------------------------------


def production_protected(resource: Resource) -> Iterable[str]:
    """In a production environment every stateful resource (VM, container, instance, volume,
    claim) is protected, so that no preview can delete or replace it."""
    if kind_of(resource.type) not in STATEFUL_KINDS or is_template(resource):
        return
    env = environment(resource.stack)
    if env.production and not resource.options.protect:
        yield (f"{resource.type} '{resource.name}' holds state in production environment '{env.name}' "
               f"but is not protected: pass protect=True (and retain_on_delete for data that must outlive it)")


CREDENTIAL_KEY = re.compile(
    r"(password|passwd|passphrase|secret|token|private_?key|api_?key|access_?key|credential|root_?pass)", re.I)
# Keys that name where a credential lives, or describe it, rather than hold it.
REFERENCE_KEY = re.compile(
    r"(file|files|path|name|names|ref|id|ids|ttl|type|length|enabled|mode|expiry|expiration|hash|"
    r"auth|authentication|policy|rotation|seconds|kind|reference|selector|mount|volume|provider)$"
    r"|^existing|(password|user|token)_?key$|checksum|digest|sha(1|256|512)"
    r"|\.(sh|bash|py|conf|cfg|ya?ml|json|toml|ini|j2|txt|service|rules|acl)$", re.I)  # file names: content
# Keys of a Kubernetes Secret that name who or where, not a credential: these may stay plain.
SECRET_DATA_IDENTIFIER = re.compile(
    r"(^|[-_.])(user|username|login|host|port|url|endpoint|org|organization|bucket|database|ca\.crt|tls\.crt)$", re.I)
PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
# Fields of a type, named like a credential, that its schema defines as the NAME of a Kubernetes
# Secret: the Traefik Middleware's basicAuth.secret ("Secret is the name of the referenced Kubernetes
# Secret containing user credentials": traefik/traefik-helm-chart v27.0.2 crds/traefik.io_middlewares.yaml).
# Known to the pack by type and path, never granted by a resource; the value must be a Secret name.
SECRET_NAME_FIELDS = {("kubernetes:traefik.io/v1alpha1:Middleware", "spec.basicAuth.secret")}
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?$")


# A credential written into config or script text: `password = "x"`, `token: x`, `--password x`,
# `export API_TOKEN=x`. The value is judged, never shown.
TEXT_CREDENTIAL = re.compile(
    r"(?im)(?:^[ \t]*(?:export[ \t]+|-[ \t]+)?[\"']?(?P<key>[\w.-]*(?:password|passwd|passphrase|secret|token|"
    r"private_?key|api_?key|access_?key|credentials?)[\w.-]*)[\"']?[ \t]*[=:][ \t]*(?P<value>[^\r\n#]*)"
    r"|(?P<flag>--[\w-]*(?:password|passwd|passphrase|secret|token|api-?key)[\w-]*)(?:=|[ \t]+)(?P<arg>[^\s\\]+))")
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<password>[^@\s/]+)@", re.I)
# What a credential-named setting may hold without being a credential: references to one
# ($VAR, ${VAR}, $(command), {{ template }}, a path, a placeholder, a file name), booleans, numbers.
NOT_A_CREDENTIAL = re.compile(
    r"""^(["']?)(|\$.*|.*\$\{.*|.*\$\(.*|\{\{.*|%\(.*|/.*|~/.*|\[secret\]|\[unknown\]|true|false|yes|no|on|off|"""
    r"""null|none|\d+[smhd]?|\*+|<[^>]*>|[\w.-]+\.(?:token|key|pem|crt|txt|json|ya?ml|conf|env|secret|password))\1[,;]?$""",
    re.I)  # the last: a file that holds the credential (kustomize `token=grafana.token`)
# Pairs such as a container's env entry {name: DB_PASSWORD, value: ...} or Helm `set` {key, value}.
PAIR_NAME_KEYS = ("name", "key")


def _plain_text_value(value: str) -> bool:
    value = value.strip()
    return bool(value) and not NOT_A_CREDENTIAL.match(value)


def _credential_pairs(props: Mapping[str, Any]) -> Iterable[str]:
    for path, _key, node in walk(props):
        if not isinstance(node, Mapping):
            continue
        label = next((node[k] for k in PAIR_NAME_KEYS if isinstance(node.get(k), str)), None)
        value = node.get("value")
        if (label and isinstance(value, str) and value not in ("", SECRET, UNKNOWN)
                and CREDENTIAL_KEY.search(label) and not REFERENCE_KEY.search(label)):
            yield f"{path}.value"


def _credentials_in_text(text: str) -> bool:
    for match in TEXT_CREDENTIAL.finditer(text):
        key, value = (match["key"], match["value"]) if match["key"] else (match["flag"], match["arg"])
        if not REFERENCE_KEY.search(key.strip("-")) and _plain_text_value(value):
            return True
    return any(_plain_text_value(m["password"]) for m in URL_PASSWORD.finditer(text))


def _is_kubernetes_secret(resource: Resource) -> bool:
    return kind_of(resource.type) == "secret" or (
        resource.type.split(":")[0] == "kubernetes" and resource.props.get("kind") == "Secret")


def no_plain_credentials(resource: Resource) -> Iterable[str]:
    """No input that looks like a credential is a plain value: a credential-named key holds a
    secret, so does the value of a credential-named name/value pair (a container's env entry),
    a Kubernetes Secret's data is secret (bar user names, hosts and public certificates), and no
    string (config text, a script, a URL) carries a credential or a private key in clear."""
    seen: set[str] = set()
    where = f"{resource.type} '{resource.name}'"
    for path, key, leaf in walk(resource.props):
        if (resource.type, path) in SECRET_NAME_FIELDS and isinstance(leaf, str) and K8S_NAME.match(leaf):
            continue
        if (isinstance(leaf, str) and leaf not in ("", SECRET, UNKNOWN)
                and CREDENTIAL_KEY.search(key) and not REFERENCE_KEY.search(key)):
            seen.add(path)
            yield (f"{where}: input '{path}' looks like a credential but is a "
                   f"plain value: pass it as a secret (pulumi.Output.secret / config --secret)")
    for path in _credential_pairs(resource.props):
        if path not in seen:
            seen.add(path)
            yield (f"{where}: '{path}' is the plain value of a credential-named entry: "
                   f"take it from a secret (valueFrom.secretKeyRef, or a Pulumi secret)")
    if _is_kubernetes_secret(resource):
        for section in ("data", "stringData"):
            for key, value in sorted(mapping(resource.props.get(section)).items()):
                path = f"{section}.{key}"
                if (path not in seen and known(value) and value not in ("", SECRET)
                        and not SECRET_DATA_IDENTIFIER.search(key)):
                    seen.add(path)
                    yield (f"{where}: '{path}' is a plain value: Kubernetes Secret "
                           f"content must be a Pulumi secret")
    for path, _key, text in strings(resource.props):
        if path in seen or text in (SECRET, UNKNOWN):
            continue
        if PEM_PRIVATE_KEY.search(text):
            yield f"{where}: input '{path}' contains a private key in plain text: pass it as a secret"
        elif _credentials_in_text(text):
            yield (f"{where}: input '{path}' writes a credential in clear into config or script text: "
                   f"reference it ($VAR, a file, a Secret) and pass the value as a secret")


ENV_TAG_FORMS = ("{env}", "env-{env}", "environment-{env}", "env:{env}", "environment:{env}", "environment={env}")


def _tags(resource: Resource) -> list[str] | None:
    if resource.type.split(":")[0] in ("incus", "lxd"):
        config = mapping(resource.props.get("config"))
        values = [config[k] for k in ("user.environment", "user.tags") if isinstance(config.get(k), str)]
        return [tag.strip() for value in values for tag in value.split(",")]
    tags = resource.props.get("tags")
    if not known(tags):
        return None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, (list, tuple)) else []


def environment_tag(resource: Resource) -> Iterable[str]:
    """Every VM, container and instance carries its environment's tag (the environment name),
    so that an inventory, a dashboard or an operator can tell staging from production."""
    if kind_of(resource.type) not in MACHINE_KINDS or is_template(resource):
        return
    tags = _tags(resource)
    if tags is None:
        return
    env = environment(resource.stack).name
    wanted = {form.format(env=env) for form in ENV_TAG_FORMS}
    if not wanted & set(tags):
        where = "config 'user.environment'" if resource.type.split(":")[0] in ("incus", "lxd") else "tags"
        yield (f"{resource.type} '{resource.name}' does not carry the environment tag '{env}' in its {where} "
               f"(has: {', '.join(sorted(tags)) or 'none'})")


# Mosquitto reads `allow_anonymous true` and `allow_anonymous 1` alike, after any leading
# whitespace (src/conf.c, conf__parse_bool: "true"/"1" and "false"/"0"; checked with mosquitto
# 2.0: "  allow_anonymous 1" admits anonymous clients). Anything but false/0 counts as on.
ANONYMOUS_SETTING = re.compile(r"^[ \t]*allow_anonymous[ \t]+(?P<value>\S*)", re.M)
ANONYMOUS_OFF_VALUES = frozenset({"false", "0"})
# A config that pulls in other files the pack cannot see: refused, whatever they hold.
MOSQUITTO_INCLUDE = re.compile(r"^[ \t]*include_dir\b", re.M)
MOSQUITTO_LISTENER = re.compile(r"^\s*listener\s+\d+", re.M)
MOSQUITTO_DIRECTIVE = re.compile(
    r"^\s*(password_file|acl_file|persistence_location|per_listener_settings|allow_anonymous|include_dir)\s", re.M)


def _is_anonymous_key(key: str) -> bool:
    return re.sub(r"[^a-z]", "", key.lower()) == "allowanonymous"


def _anonymous_on(value: Any) -> bool:
    return value is True or (isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0) or (
        isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"))


def _is_mosquitto_conf(key: str, text: str) -> bool:
    return "mosquitto" in key.lower() or bool(MOSQUITTO_LISTENER.search(text) and MOSQUITTO_DIRECTIVE.search(text))


def mosquitto_no_anonymous(resource: Resource) -> Iterable[str]:
    """A Mosquitto broker never accepts anonymous clients: every mosquitto.conf a resource carries
    says `allow_anonymous false` and never turns it on (`true` or `1`, in any structured spelling
    such as allowAnonymous), and includes no other config (`include_dir`) the pack cannot check."""
    where = f"{resource.type} '{resource.name}'"
    for path, key, leaf in walk(resource.props):
        if _is_anonymous_key(key) and _anonymous_on(leaf):
            yield f"{where}: '{path}' allows anonymous MQTT clients"
    for path, key, text in strings(resource.props):
        if text in (SECRET, UNKNOWN) or not _is_mosquitto_conf(key, text):
            continue
        values = [m["value"] for m in ANONYMOUS_SETTING.finditer(text)]
        if any(value not in ANONYMOUS_OFF_VALUES for value in values):
            yield f"{where}: Mosquitto config at '{path}' turns allow_anonymous on: every client must authenticate"
        elif not values:
            yield f"{where}: Mosquitto config at '{path}' does not say 'allow_anonymous false'"
        if MOSQUITTO_INCLUDE.search(text):
            yield (f"{where}: Mosquitto config at '{path}' pulls in other files with include_dir, which the "
                   f"policy cannot check: keep the whole config in one file")


def catalog() -> Mapping[str, Any]:
    """The distribution catalog (components/catalog.py: pure data, no Pulumi import)."""
    from components.catalog import CATALOG

    return CATALOG


def catalog_images() -> dict[str, Any]:
    """url -> pinned image (cloud images and LXC templates) from the distribution catalog."""
    images: dict[str, Any] = {}
    for distro in catalog().values():
        images[distro.image_url] = getattr(distro, "image", distro)
        lxc = getattr(distro, "lxc_template", None)
        if lxc is not None:
            images[lxc.url] = lxc
    return images


def catalog_file_names() -> set[str]:
    return {getattr(image, "file_name", None) or image.image_file_name for image in catalog_images().values()}


# Incus remotes that serve distribution (system) images; any other remote (ghcr:, docker:) serves OCI images.
SYSTEM_IMAGE_REMOTES = frozenset({"", "images", "local"})
OCI_PINNED = re.compile(r"@sha256:[0-9a-f]{64}$|:(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _file_part(file_id: str) -> str:
    return file_id.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def pinned_images(resource: Resource) -> Iterable[str]:
    """Templates and clones use the catalog's pinned images: every download is a catalog URL with
    the catalog's checksum, every template disk is imported from a catalog image, every instance
    image is the catalog's image for its platform."""
    props = resource.props
    kind, package = kind_of(resource.type), resource.type.split(":")[0]
    if kind == "download":
        url = props.get("url")
        if not isinstance(url, str) or not known(url):
            return
        images = catalog_images()
        image = images.get(url)
        if image is None:
            yield (f"{resource.type} '{resource.name}' downloads {url}, which is not an image of the distribution "
                   f"catalog (components/catalog.py)")
            return
        file_name = getattr(image, "file_name", None) or image.image_file_name
        if known(props.get("fileName")) and props.get("fileName") not in (None, file_name):
            yield f"{resource.type} '{resource.name}': fileName {props.get('fileName')!r} is not the catalog's {file_name!r}"
        if image.checksum:
            if props.get("checksum") != image.checksum or props.get("checksumAlgorithm") != image.checksum_algorithm:
                yield (f"{resource.type} '{resource.name}' downloads {url} without the catalog's pinned "
                       f"{image.checksum_algorithm} checksum")
    elif kind == "vm":
        # Every VM, template or not: a disk imported from a file that is not a catalog image is an
        # unpinned image whatever the VM calls itself (clones carry no import).
        names = catalog_file_names()
        for index, disk in enumerate(_disks(resource)):
            for key in ("importFrom", "fileId"):
                value = disk.get(key)
                if isinstance(value, str) and known(value) and value != SECRET and _file_part(value) not in names:
                    yield (f"{resource.type} '{resource.name}': disk {index} {key} {value!r} is not a "
                           f"catalog image")
    elif kind == "instance" and package == "linode":
        image = props.get("image")
        allowed = {d.linode_image for d in catalog().values() if d.linode_image}
        if isinstance(image, str) and known(image) and image not in allowed:
            yield (f"{resource.type} '{resource.name}': image {image!r} is not a catalog image "
                   f"({', '.join(sorted(allowed))})")
    elif kind == "instance":
        image = props.get("image")
        if not (isinstance(image, str) and known(image)):
            return
        allowed = {d.incus_image for d in catalog().values() if d.incus_image}
        remote = image.split(":", 1)[0] if ":" in image else ""
        if remote in SYSTEM_IMAGE_REMOTES:
            if image not in allowed:
                yield (f"{resource.type} '{resource.name}': image {image!r} is not a catalog image "
                       f"({', '.join(sorted(allowed))})")
        elif not OCI_PINNED.search(image):
            # An application (OCI) container is not a distribution: it is pinned by tag or digest.
            yield (f"{resource.type} '{resource.name}': OCI image {image!r} is not pinned to a version tag "
                   f"or digest")
    elif kind == "container":
        template = mapping(props.get("operatingSystem")).get("templateFileId")
        if isinstance(template, str) and known(template) and _file_part(template) not in catalog_file_names():
            yield (f"{resource.type} '{resource.name}': templateFileId {template!r} is not a catalog LXC template")


# --- mandatory, across the stack -------------------------------------------------------------------


def clones_from_templates(resources: Sequence[Resource]) -> Iterable[tuple[str, str]]:
    """Every clone's source VMID is a catalog template this stack builds (or, when the stack builds
    no template, a catalog default VMID)."""
    templates = {int(r.props["vmId"]) for r in resources if is_template(r) and isinstance(r.props.get("vmId"), (int, float))}
    allowed = templates or {d.default_vmid for d in catalog().values()}
    for resource in resources:
        if kind_of(resource.type) != "vm":
            continue
        clone = resource.props.get("clone")
        if not isinstance(clone, Mapping):
            continue
        vm_id = clone.get("vmId")
        if isinstance(vm_id, (int, float)) and int(vm_id) not in allowed:
            yield resource.urn, (f"{resource.type} '{resource.name}' clones VMID {int(vm_id)}, which is not a "
                                 f"catalog template of this stack ({', '.join(map(str, sorted(allowed)))})")


# A k3s server's config.yaml (wherever it is written from: a script, a heredoc, cloud-init) has
# settings only servers take; an agent's has none of them.
K3S_SERVER_SETTING = re.compile(
    r"^[ \t-]*[\"']?(cluster-init|tls-san|secrets-encryption|cluster-cidr|service-cidr|etcd-[a-z-]+)[\"']?\s*:", re.M)
K3S_SERVER_INSTALL = re.compile(r"INSTALL_K3S_EXEC=[\"']?server\b|\bk3s(-install\.sh)?\s+server\b|\bsh -s - server\b")
# A server that keeps its state in an external datastore (PostgreSQL, MySQL) instead of embedded
# etcd: its endpoint in config.yaml, or the drop-in the program writes it to from stdin.
K3S_EXTERNAL_DATASTORE = re.compile(r"datastore-endpoint|config\.yaml\.d/\S*datastore")


def _k3s_role(resource: Resource) -> str | None:
    """'server' when the resource installs or declares a k3s server, else None."""
    lowered = resource.type.lower()
    if lowered.startswith("homelab:k3s:"):
        kind = lowered.rsplit(":", 1)[-1]
        return "server" if kind in ("server", "servernode", "k3sserver") else None
    if resource.type != COMMAND_REMOTE:
        return None
    for _path, _key, text in strings(resource.props):
        if text not in (SECRET, UNKNOWN) and (K3S_SERVER_SETTING.search(text) or K3S_SERVER_INSTALL.search(text)):
            return "server"
    return None


def k3s_odd_servers(resources: Sequence[Resource]) -> Iterable[tuple[str, str]]:
    """Each k3s cluster runs an odd number of servers (embedded etcd needs a majority): 1, 3, 5..."""
    by_urn = {r.urn: r for r in resources}
    servers = {r.urn for r in resources if _k3s_role(r) == "server"}
    clusters: dict[str, list[Resource]] = {}
    for urn in sorted(servers):
        resource = by_urn[urn]
        if _ancestors(resource, by_urn) & servers:
            continue  # the command inside a server component is the same server
        clusters.setdefault(_cluster_of(resource, by_urn), []).append(resource)
    for cluster, nodes in sorted(clusters.items()):
        if len(nodes) % 2 == 0 and not any(_external_datastore(node) for node in nodes):
            label = by_urn[cluster].name if cluster in by_urn else "(stack)"
            yield cluster, (f"k3s cluster '{label}' has {len(nodes)} servers "
                            f"({', '.join(sorted(n.name for n in nodes))}): embedded etcd needs an odd number "
                            f"(1, 3, 5...)")


def _external_datastore(resource: Resource) -> bool:
    """No etcd quorum to keep: any number of servers share an external datastore."""
    return any(text not in (SECRET, UNKNOWN) and K3S_EXTERNAL_DATASTORE.search(text)
               for _path, _key, text in strings(resource.props))


def _ancestors(resource: Resource, by_urn: Mapping[str, Resource]) -> set[str]:
    found: set[str] = set()
    parent = resource.parent
    while parent and parent in by_urn and parent not in found:
        found.add(parent)
        parent = by_urn[parent].parent
    return found


def _cluster_of(resource: Resource, by_urn: Mapping[str, Resource]) -> str:
    """The URN of the nearest ancestor component that is a k3s cluster (else the outermost k3s one)."""
    outermost = None
    parent = resource.parent
    while parent and parent in by_urn:
        node = by_urn[parent]
        if node.type.lower().startswith("homelab:k3s:"):
            if node.type.lower().endswith(":cluster"):
                return node.urn
            outermost = node.urn
        parent = node.parent
    return outermost or f"urn:pulumi:{resource.stack}::k3s"


# --- mandatory, across the stack: backups (issue 19) -----------------------------------------------

PVE_BACKUP_JOB = "proxmoxve:backup/job:Job"
PVE_POOL = "proxmoxve:index/poolLegacy:PoolLegacy"
PVE_POOL_MEMBERSHIP = "proxmoxve:pool/membership:Membership"
MINIO_BUCKET = "minio:index/s3Bucket:S3Bucket"
K8S_CRON_JOB = "kubernetes:batch/v1:CronJob"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
# Proxmox storages that are the node's own disks by default: a backup there dies with the node.
NODE_LOCAL_STORAGES = frozenset({"local", "local-lvm", "local-zfs"})
K3S_ETCD_S3 = re.compile(r"^etcd-s3:\s*true\s*$", re.M)


def _guest_datastores(resource: Resource) -> set[str]:
    disks = resource.props.get("disks") if kind_of(resource.type) == "vm" else [resource.props.get("disk")]
    return {str(d["datastoreId"]) for d in disks or [] if isinstance(d, Mapping) and known(d.get("datastoreId"))}


def _cron_containers(resource: Resource) -> list[Mapping[str, Any]]:
    pod = mapping(mapping(mapping(mapping(mapping(resource.props.get("spec")).get("jobTemplate")).get("spec"))
                          .get("template")).get("spec"))
    return [c for key in ("initContainers", "containers") for c in pod.get(key) or [] if isinstance(c, Mapping)]


def _cron_claims(resource: Resource) -> set[str]:
    pod = mapping(mapping(mapping(mapping(mapping(resource.props.get("spec")).get("jobTemplate")).get("spec"))
                          .get("template")).get("spec"))
    return {str(mapping(v.get("persistentVolumeClaim")).get("claimName")) for v in pod.get("volumes") or []
            if isinstance(v, Mapping) and v.get("persistentVolumeClaim")}


def _incus_exports(crons: Sequence[Resource]) -> set[tuple[str, str]]:
    """(pool, volume) of every Incus custom volume a CronJob exports (components/backups/incus.py:
    the export container's INCUS_POOL / INCUS_VOLUME, beside an upload container)."""
    exported = set()
    for cron in crons:
        containers = _cron_containers(cron)
        if len(containers) < 2:  # the export alone, without an upload, leaves the copy in the pod
            continue
        for container in containers:
            env = {str(e.get("name")): e.get("value") for e in container.get("env") or [] if isinstance(e, Mapping)}
            if known(env.get("INCUS_POOL")) and known(env.get("INCUS_VOLUME")):
                exported.add((str(env["INCUS_POOL"]), str(env["INCUS_VOLUME"])))
    return exported


def production_backups(resources: Sequence[Resource]) -> Iterable[tuple[str, str]]:
    """In production every stateful thing has a backup off its host: each Proxmox guest is in a
    pool a protected vzdump job covers, writing to a storage that is neither the guest's own nor a
    node-local default; every k3s server copies its etcd snapshots to S3; InfluxDB and Grafana
    are backed up by CronJobs; every Incus custom volume is exported by a CronJob (its snapshots
    stay on its own pool). Backup jobs, pools and the backup bucket are protected."""
    if not resources or not environment(resources[0].stack).production:
        return
    env = environment(resources[0].stack).name
    jobs = [r for r in resources if r.type == PVE_BACKUP_JOB]
    for resource in resources:
        if resource.type in (PVE_BACKUP_JOB, PVE_POOL, MINIO_BUCKET) and not resource.options.protect:
            yield resource.urn, f"{resource.type} '{resource.name}' keeps production backups of '{env}' but is not protected"
    pools: dict[int, set[str]] = {}
    for member in (r for r in resources if r.type == PVE_POOL_MEMBERSHIP):
        if isinstance(member.props.get("vmId"), (int, float)) and known(member.props.get("poolId")):
            pools.setdefault(int(member.props["vmId"]), set()).add(str(member.props["poolId"]))
    for guest in resources:
        if kind_of(guest.type) not in ("vm", "container") or is_template(guest) or not isinstance(guest.props.get("vmId"), (int, float)):
            continue
        vm_id = int(guest.props["vmId"])
        in_pools = pools.get(vm_id, set()) | ({str(guest.props["poolId"])} if known(guest.props.get("poolId")) else set())
        covering = [j for j in jobs if known(j.props.get("pool")) and str(j.props["pool"]) in in_pools
                    or str(vm_id) in [str(v) for v in j.props.get("vmids") or []] or j.props.get("all") is True]
        off_host = [j for j in covering if str(j.props.get("storage")) not in NODE_LOCAL_STORAGES | _guest_datastores(guest)]
        if not covering:
            yield guest.urn, f"{guest.type} '{guest.name}' (VMID {vm_id}) of production '{env}' is in no backup job"
        elif not off_host:
            yield guest.urn, (f"{guest.type} '{guest.name}' (VMID {vm_id}) of production '{env}' is backed up only to "
                              f"storage on its own node ({', '.join(sorted(str(j.props.get('storage')) for j in covering))})")
    for server in (r for r in resources if _k3s_role(r) == "server" and r.type == COMMAND_REMOTE):
        texts = [t for _p, _k, t in strings(server.props) if t not in (SECRET, UNKNOWN)]
        if not any(K3S_ETCD_S3.search(t) for t in texts):
            yield server.urn, f"k3s server '{server.name}' of production '{env}' does not copy its etcd snapshots to S3 (etcd-s3)"
    crons = [r for r in resources if r.type == K8S_CRON_JOB]
    for release in (r for r in resources if r.type == HELM_RELEASE):
        chart = release.props.get("chart")
        if chart == "influxdb2":
            backed = any("influx" in (c.get("command") or []) and "backup" in (c.get("command") or [])
                         for cron in crons for c in _cron_containers(cron))
        elif chart == "grafana":
            claim = mapping(mapping(release.props.get("values")).get("persistence")).get("existingClaim")
            backed = any(str(claim) in _cron_claims(cron) for cron in crons)
        else:
            continue
        if not backed:
            yield release.urn, f"{chart} release '{release.name}' of production '{env}' has no backup CronJob"
    exported = _incus_exports(crons)
    for volume in (r for r in resources if kind_of(r.type) == "volume" and r.type.split(":")[0] in ("incus", "lxd")):
        pool, name = volume.props.get("pool"), volume.props.get("name")
        if str(volume.props.get("type") or "custom") != "custom":
            continue
        if not (known(pool) and known(name)) or (str(pool), str(name)) not in exported:
            yield volume.urn, (f"{volume.type} '{volume.name}' (pool {pool}, volume {name}) of production '{env}' is "
                               "exported by no backup CronJob (a snapshot on its own pool is not a backup)")


# --- advisory --------------------------------------------------------------------------------------


def has_description(resource: Resource) -> Iterable[str]:
    """Resources that can carry a description have one (shown in the Proxmox/Incus UI).

    An Incus network pending on one cluster member (`target` set) is exempt: Incus takes only
    member-specific keys there, the description belongs to the cluster-wide definition."""
    pending_member = resource.type == "incus:index/network:Network" and resource.props.get("target")
    described = resource.type in DESCRIBED_TYPES or kind_of(resource.type) in ("vm", "container")
    if described and not resource.props.get("description") and not pending_member:
        yield f"{resource.type} '{resource.name}' has no description"


def guest_agent(resource: Resource) -> Iterable[str]:
    """VMs run the QEMU guest agent (clean shutdown, IP reporting, fs-freeze for backups)."""
    if kind_of(resource.type) != "vm" or is_template(resource):
        return
    agent = resource.props.get("agent")
    if not (isinstance(agent, Mapping) and agent.get("enabled") is True):
        yield f"{resource.type} '{resource.name}' does not enable the QEMU guest agent (agent.enabled)"


# --- the rule book ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    enforcement: Enforcement
    check: Callable[[Resource], Iterable[str]]

    @property
    def description(self) -> str:
        return " ".join((self.check.__doc__ or self.name).split())


@dataclass(frozen=True)
class StackRule:
    name: str
    enforcement: Enforcement
    check: Callable[[Sequence[Resource]], Iterable[tuple[str, str]]]

    @property
    def description(self) -> str:
        return " ".join((self.check.__doc__ or self.name).split())


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("production-stateful-protected", "mandatory", production_protected),
    Rule("no-plain-credentials", "mandatory", no_plain_credentials),
    Rule("environment-tag", "mandatory", environment_tag),
    Rule("mosquitto-no-anonymous", "mandatory", mosquitto_no_anonymous),
    Rule("pinned-catalog-images", "mandatory", pinned_images),
    Rule("description-present", "advisory", has_description),
    Rule("vm-guest-agent", "advisory", guest_agent),
)
STACK_RULES: tuple[StackRule, ...] = (
    StackRule("k3s-odd-servers", "mandatory", k3s_odd_servers),
    StackRule("clones-from-catalog-templates", "mandatory", clones_from_templates),
    StackRule("production-backups", "mandatory", production_backups),
)


@dataclass(frozen=True, order=True)
class Violation:
    enforcement: Enforcement
    policy: str
    urn: str
    message: str

    def line(self) -> str:
        return f"[{self.enforcement}] {self.policy}: {self.message}"


def evaluate(resources: Sequence[Resource]) -> list[Violation]:
    """Every rule over every resource, sorted (mandatory first)."""
    found: list[Violation] = []
    for resource in resources:
        for rule in RESOURCE_RULES:
            found += [Violation(rule.enforcement, rule.name, resource.urn, m) for m in rule.check(resource)]
    for stack_rule in STACK_RULES:
        found += [Violation(stack_rule.enforcement, stack_rule.name, urn, m) for urn, m in stack_rule.check(resources)]
    return sorted(set(found), key=lambda v: (v.enforcement != "mandatory", v.policy, v.urn, v.message))
