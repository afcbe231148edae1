"""Proxmox VE: nodes, storages, templates, VMs and LXC containers.

```yaml
homelab:proxmox:
  endpoint: https://iluvatar.mirkwood.lan:8006/
  insecure: false                 # true accepts a self-signed API certificate
  api_token_id: homelab-mirkwood@pve!pulumi   # identity of proxmoxApiToken; required in production
  ssh_user: root                  # the provider uploads snippets over SSH (key: secret sshPrivateKey)
  nodes:                          # host_key: the node's SSH key, written to known_hosts for the provider
    - {name: iluvatar, address: 10.20.0.11, host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAtmCNPamgHfH7c0M6yCtGEdfOoeocKt9tmMJXnsJecZ"}
  storage: {vm: local-lvm, images: local, snippets: local, shared: false}
  bridge: {name: vmbr0, mtu: 1500}  # every NIC gets the bridge's MTU
  network: staging                # environment network (VLAN, CIDR); default: the environment's
  vmid_range: {first: 7000, last: 9099}
  templates:                      # vm_id defaults to the catalog (rocky9 7000, rocky10 7001, debian12 9001)
    - {distribution: rocky9}      # node defaults to the first node; name to the distribution
    - {distribution: debian12, name: debian, node: iluvatar, vm_id: 7002, cores: 4, memory_mb: 4096, disk_gb: 8}
  vms:                            # node: explicit, or spread over the nodes holding the template
    - {name: mirkwood-k3s-s1, vm_id: 7101, template: rocky9, ipv4: 10.40.0.21, groups: [k3s, k3s_server]}
    - name: mirkwood-db
      vm_id: 7102
      template: debian
      node: iluvatar
      cores: 2
      memory_mb: 2048
      disk_gb: 20
      ipv4: dhcp                  # or an address of the VM's network
      network: staging            # default: the proxmox section's network
      datastore: fast-nvme        # default: storage.vm
      bridge: vmbr1               # default: bridge.name
      on_boot: true
      tags: [db]
  containers:
    - name: mirkwood-dns
      vm_id: 7201
      distribution: debian12      # a catalog distribution with an LXC template
      node: iluvatar
      cores: 1
      memory_mb: 512
      swap_mb: 512
      disk_gb: 8
      ipv4: 10.40.0.10
      datastore: local-lvm        # default: storage.vm
      bridge: vmbr0               # default: bridge.name
      unprivileged: true
      nesting: true               # the default for unprivileged containers
      on_boot: true
      tags: [dns]
```
Placement per guest, without code: `datastore` (a VM's or container's disks on another storage than
`storage.vm`, e.g. `{datastore: fast-nvme}`), `network` (another environment network: its VLAN,
gateway and DNS) and `bridge` (another Linux bridge than `bridge.name`, e.g. `vmbr1`).
On the Proxmox side: `images` storage allows the `Import` content type (cloud images) and
`vztmpl`; `snippets` storage allows `Snippets`; the API token (secret `proxmoxApiToken`,
`USER@REALM!TOKENID=SECRET`) may manage VMs, storage and downloads (`Sys.Audit`, `Sys.Modify`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from components.catalog import CATALOG, Image
from components.hostkey import host_key_problem

from .base import API_TOKEN, DeclaredHost, Model, Problem, SecretSpec, check_hostname

if TYPE_CHECKING:
    from .environment import Environment, Network
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

PLATFORM_VM = "proxmox-vm"
TOKEN_ID = r"[^@\s=]+@[^!\s=]+![^=\s]+"
TEMPLATE_DISK_GB = 8  # a template's disk unless the image is larger
PLATFORM_LXC = "proxmox-lxc"


def _known_distribution(value: str) -> str:
    if value not in CATALOG:
        raise ValueError(f"is not a distribution of the catalog ({', '.join(sorted(CATALOG))})")
    return value


def _ipv4_or_dhcp(value: object) -> object:
    if value == "dhcp":
        return value
    try:
        ipaddress.IPv4Address(str(value))
    except ValueError:
        raise ValueError("must be 'dhcp' or an IPv4 address without prefix, e.g. 10.40.0.21") from None
    return str(value)


_STORAGE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")  # Proxmox storage/bridge identifiers


def _storage_id(value: str | None) -> str | None:
    if value is not None and not _STORAGE_ID.match(value):
        raise ValueError("is not a Proxmox identifier (a letter, then letters, digits, '-', '_', '.')")
    return value


class Node(Model):
    """A Proxmox node: its name in the cluster and the address the provider reaches it over SSH."""

    name: str
    address: str
    # The node's SSH host key (`ssh-keyscan -t ed25519 ADDRESS`, checked on the node with
    # `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`): written to known_hosts before the provider
    # connects. Unset: the provider records the key on first contact and refuses a changed one.
    host_key: str | None = None

    _name = field_validator("name")(lambda cls, v: check_hostname(v))

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        problem = host_key_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value


class Storage(Model):
    """Datastore ids: VM disks, downloaded images (needs the `Import` content type) and snippets."""

    vm: str = "local-lvm"
    images: str = "local"
    snippets: str = "local"
    shared: bool = False  # VM disks on shared storage: one template serves every node


class Bridge(Model):
    """The Linux bridge VMs and containers attach to, and its MTU."""

    name: str = "vmbr0"
    mtu: int = Field(default=1500, ge=576, le=65520)


class VmidRange(Model):
    """The environment's VMIDs (unique cluster-wide)."""

    first: int = Field(ge=100, le=999_999_999)
    last: int = Field(ge=100, le=999_999_999)

    @model_validator(mode="after")
    def _ordered(self) -> "VmidRange":
        if self.last < self.first:
            raise ValueError(f"last {self.last} is below first {self.first}")
        return self

    def __contains__(self, vm_id: int) -> bool:
        return self.first <= vm_id <= self.last


class Template(Model):
    """A cloud-image VM template on one node (a name may have one template per node)."""

    distribution: str
    name: str | None = None  # what VMs refer to; defaults to the distribution key
    node: str | None = None  # defaults to the first node
    vm_id: int | None = None  # defaults to the catalog's VMID for the distribution
    cores: int = Field(default=4, ge=1, le=128)
    memory_mb: int = Field(default=4096, ge=256)
    # Defaults to 8 GiB or the image's virtual size if larger (Rocky GenericCloud: 10); smaller than
    # the image is refused by checks() below (a shrink, which Proxmox refuses: bpg issue #1351).
    disk_gb: int | None = Field(default=None, ge=1)

    _distribution = field_validator("distribution")(lambda cls, v: _known_distribution(v))

    @model_validator(mode="after")
    def _defaults(self) -> "Template":
        if self.name is None:
            object.__setattr__(self, "name", self.distribution)
        if self.vm_id is None:
            object.__setattr__(self, "vm_id", CATALOG[self.distribution].default_vmid)
        if self.disk_gb is None:
            size = max(TEMPLATE_DISK_GB, CATALOG[self.distribution].image.virtual_size_gb)
            object.__setattr__(self, "disk_gb", size)
        return self


class Vm(Model):
    """A VM: a full clone of a template with cloud-init."""

    name: str
    vm_id: int
    template: str
    node: str | None = None  # None: spread over the nodes that hold the template
    cores: int = Field(default=2, ge=1, le=128)
    memory_mb: int = Field(default=2048, ge=256)
    disk_gb: int = Field(default=20, ge=1)  # at least the template's disk (checks())
    ipv4: str = "dhcp"
    network: str | None = None  # an environment network; defaults to the proxmox section's
    datastore: str | None = Field(default=None, description="storage for this guest's disks (default: storage.vm)",
                                  examples=["fast-nvme"])
    bridge: str | None = Field(default=None, description="Linux bridge of this guest's NIC (default: bridge.name)",
                               examples=["vmbr1"])
    on_boot: bool = True
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    _name = field_validator("name")(lambda cls, v: check_hostname(v))
    _ip = field_validator("ipv4", mode="before")(lambda cls, v: _ipv4_or_dhcp(v))
    _placement = field_validator("datastore", "bridge")(lambda cls, v: _storage_id(v))


class Container(Model):
    """An LXC container from a downloaded appliance template."""

    name: str
    vm_id: int
    distribution: str = "debian12"
    node: str | None = None
    cores: int = Field(default=1, ge=1, le=128)
    memory_mb: int = Field(default=512, ge=64)
    swap_mb: int = Field(default=512, ge=0)
    disk_gb: int = Field(default=8, ge=1)  # at least the template unpacked (checks())
    ipv4: str = "dhcp"
    network: str | None = None
    datastore: str | None = Field(default=None, description="storage for this guest's disks (default: storage.vm)",
                                  examples=["fast-nvme"])
    bridge: str | None = Field(default=None, description="Linux bridge of this guest's NIC (default: bridge.name)",
                               examples=["vmbr1"])
    unprivileged: bool = True
    # Defaults to `unprivileged`: systemd units of current distributions (Debian 12: credentials,
    # private mounts) fail in an unprivileged container without it; Proxmox's own create wizard
    # ticks "Nesting" for unprivileged containers (pve-docs pct.adoc, "nesting" feature).
    nesting: bool | None = None
    on_boot: bool = True
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    _name = field_validator("name")(lambda cls, v: check_hostname(v))
    _ip = field_validator("ipv4", mode="before")(lambda cls, v: _ipv4_or_dhcp(v))
    _placement = field_validator("datastore", "bridge")(lambda cls, v: _storage_id(v))

    @model_validator(mode="after")
    def _nesting_default(self) -> "Container":
        if self.nesting is None:
            object.__setattr__(self, "nesting", self.unprivileged)
        return self

    @field_validator("distribution")
    @classmethod
    def _has_lxc_template(cls, value: str) -> str:
        _known_distribution(value)
        if CATALOG[value].lxc_template is None:
            with_lxc = sorted(k for k, d in CATALOG.items() if d.lxc_template is not None)
            raise ValueError(f"has no LXC template in the catalog (available: {', '.join(with_lxc)})")
        return value


class Proxmox(Model):
    """Proxmox VE: nodes, storages, templates, VMs and LXC containers."""

    endpoint: str
    insecure: bool = False
    # USER@REALM!TOKENID of the secret proxmoxApiToken (not secret itself): the loader checks that the
    # secret carries it, and that no staging stack uses a production stack's token. Required in
    # production. Per environment: its own user and token, limited to the environment's pool and
    # storages (README: "Credentials per environment").
    api_token_id: str | None = None
    ssh_user: str = "root"
    nodes: tuple[Node, ...] = Field(min_length=1)
    storage: Storage = Storage()
    bridge: Bridge = Bridge()
    network: str | None = None  # an environment network; defaults to the environment's default
    vmid_range: VmidRange
    templates: tuple[Template, ...] = ()
    vms: tuple[Vm, ...] = ()
    containers: tuple[Container, ...] = ()

    @field_validator("api_token_id")
    @classmethod
    def _token_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(TOKEN_ID, value):
            raise ValueError("is not a Proxmox API token id USER@REALM!TOKENID, e.g. homelab-mirkwood@pve!pulumi")
        return value

    @field_validator("endpoint")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must be the API URL, e.g. https://iluvatar.mirkwood.lan:8006/")
        return value

    @model_validator(mode="after")
    def _template_nodes(self) -> "Proxmox":
        first = self.nodes[0].name
        fixed = tuple(t if t.node else t.model_copy(update={"node": first}) for t in self.templates)
        object.__setattr__(self, "templates", fixed)
        return self

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    def template_nodes(self, name: str) -> tuple[str, ...]:
        """The nodes a VM cloning template `name` can be placed on (sorted)."""
        homes = {t.node for t in self.templates if t.name == name}
        if homes and self.storage.shared:
            return tuple(sorted(self.node_names))
        return tuple(sorted(homes))

    def template_for(self, vm: Vm, node: str) -> Template:
        """The template a VM on `node` clones: the one on that node, else (shared storage) the first."""
        candidates = [t for t in self.templates if t.name == vm.template]
        for template in candidates:
            if template.node == node:
                return template
        return candidates[0]


def spread(name: str, nodes: tuple[str, ...]) -> str:
    """A node for `name`: rendezvous (highest random weight) hashing over the nodes.

    Deterministic and independent of the other hosts; a node added later takes only the guests
    whose highest weight it now has (about 1 in N), every other guest stays where it is (a hash
    modulo the node count would move most of them). A VM that moves is migrated (`migrate`), a
    container is re-created (bpg has no container migration): pin containers with `node:`."""
    def weight(node: str) -> bytes:
        return hashlib.sha256(f"{name}@{node}".encode()).digest()
    return max(sorted(nodes), key=weight)


def vm_node(cfg: Proxmox, vm: Vm) -> str | None:
    if vm.node:
        return vm.node
    nodes = cfg.template_nodes(vm.template)
    return spread(vm.name, nodes) if nodes else None


def container_node(cfg: Proxmox, container: Container) -> str:
    return container.node or spread(container.name, cfg.node_names)


def network_of(env: "Environment", cfg: Proxmox, name: str | None) -> "Network":
    return env.networks[name or cfg.network or env.default_network]


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    px = cfg.proxmox
    if px is None:
        return
    env = cfg.environment
    if env.production and px.api_token_id is None:
        yield Problem("proxmox.api_token_id", None, "is required in production: the identity USER@REALM!TOKENID of "
                      "proxmoxApiToken, so that no staging stack can use the same token")
    nodes = set(px.node_names)
    yield from _duplicates([(f"proxmox.nodes[{i}].name", n.name) for i, n in enumerate(px.nodes)],
                           "node name is already used by")

    guests = {g.ipv4: f"proxmox.{kind}[{i}].ipv4" for kind in ("vms", "containers")
              for i, g in enumerate(getattr(px, kind)) if g.ipv4 != "dhcp"}
    for i, node in enumerate(px.nodes):
        if node.address in guests:
            yield Problem(f"proxmox.nodes[{i}].address", node.address, f"address is already used by {guests[node.address]}")

    if px.network is not None and px.network not in env.networks:
        yield Problem("proxmox.network", px.network, f"is not a network of the environment ({', '.join(sorted(env.networks))})")

    # VMIDs: unique across templates, VMs and containers, inside the environment's range.
    vmids = ([(f"proxmox.templates[{i}].vm_id", t.vm_id) for i, t in enumerate(px.templates)]
             + [(f"proxmox.vms[{i}].vm_id", v.vm_id) for i, v in enumerate(px.vms)]
             + [(f"proxmox.containers[{i}].vm_id", c.vm_id) for i, c in enumerate(px.containers)])
    for path, vm_id in vmids:
        if vm_id not in px.vmid_range:
            yield Problem(path, vm_id, f"is outside the environment's VMID range {px.vmid_range.first}-{px.vmid_range.last}")
    yield from _duplicates(vmids, "VMID is already used by")

    seen_templates: dict[tuple[str, str], str] = {}
    for i, template in enumerate(px.templates):
        path = f"proxmox.templates[{i}]"
        if template.node not in nodes:
            yield Problem(f"{path}.node", template.node, f"is not a Proxmox node ({', '.join(sorted(nodes))})")
        first = seen_templates.setdefault((template.name, template.node), path)
        if first != path:
            yield Problem(f"{path}.name", template.name, f"template is already on node {template.node} ({first})")
        yield from _disk_fits(f"{path}.disk_gb", template.disk_gb, CATALOG[template.distribution].image,
                              f"the {template.distribution} image")

    template_names = sorted({t.name for t in px.templates})
    for i, vm in enumerate(px.vms):
        path = f"proxmox.vms[{i}]"
        if vm.template not in template_names:
            yield Problem(f"{path}.template", vm.template,
                          f"is not a template of proxmox.templates ({', '.join(template_names) or 'none declared'})")
        elif vm.node is not None and vm.node in nodes and vm.node not in px.template_nodes(vm.template):
            yield Problem(f"{path}.node", vm.node,
                          f"has no template {vm.template!r} (templates on: {', '.join(px.template_nodes(vm.template))}); "
                          "add one there or use shared storage")
        if vm.node is not None and vm.node not in nodes:
            yield Problem(f"{path}.node", vm.node, f"is not a Proxmox node ({', '.join(sorted(nodes))})")
        yield from _clone_fits(px, path, vm)
        yield from _address_problems(env, px, path, vm.network, vm.ipv4)
    for i, container in enumerate(px.containers):
        path = f"proxmox.containers[{i}]"
        if container.node is not None and container.node not in nodes:
            yield Problem(f"{path}.node", container.node, f"is not a Proxmox node ({', '.join(sorted(nodes))})")
        template = CATALOG[container.distribution].lxc_template
        if template is not None:
            yield from _disk_fits(f"{path}.disk_gb", container.disk_gb, template,
                                  f"the {container.distribution} container template")
        yield from _address_problems(env, px, path, container.network, container.ipv4)


def _disk_fits(path: str, disk_gb: int, image: "Image", what: str) -> Iterator[Problem]:
    """bpg resizes an imported disk to the configured size; smaller is a shrink, which Proxmox
    refuses ("shrinking disks is not supported", bpg/terraform-provider-proxmox issue #1351)."""
    if disk_gb < image.virtual_size_gb:
        yield Problem(path, disk_gb, f"is smaller than {what} ({image.virtual_size_gb} GiB, {image.file_name}); "
                                     f"use {image.virtual_size_gb} or more")


def _clone_fits(px: Proxmox, path: str, vm: Vm) -> Iterator[Problem]:
    """A full clone starts with its template's disk; resizing it below that is a shrink too."""
    largest = max((t.disk_gb for t in px.templates if t.name == vm.template), default=0)
    if vm.disk_gb < largest:
        yield Problem(f"{path}.disk_gb", vm.disk_gb,
                      f"is smaller than the disk of template {vm.template} ({largest} GiB); use {largest} or more")


def _address_problems(env: "Environment", px: Proxmox, path: str, network: str | None, ipv4: str) -> Iterator[Problem]:
    name = network or px.network or env.default_network
    if name not in env.networks:
        if network is not None:
            yield Problem(f"{path}.network", network, f"is not a network of the environment ({', '.join(sorted(env.networks))})")
        return
    if ipv4 == "dhcp":
        return
    net = env.networks[name]
    address = ipaddress.IPv4Address(ipv4)
    if address == net.cidr.network_address:
        yield Problem(f"{path}.ipv4", ipv4, f"is the network address of {name} {net.cidr}, not a host address")
    elif address == net.cidr.broadcast_address:
        yield Problem(f"{path}.ipv4", ipv4, f"is the broadcast address of {name} {net.cidr}, not a host address")
    elif not net.contains(address):
        yield Problem(f"{path}.ipv4", ipv4, f"is outside the network {name} {net.cidr}")
    elif address == net.gateway:
        yield Problem(f"{path}.ipv4", ipv4, f"is the gateway of the network {name}")


def _duplicates(items: list[tuple[str, object]], message: str) -> Iterator[Problem]:
    first: dict[object, str] = {}
    for path, value in items:
        owner = first.setdefault(value, path)
        if owner != path:
            yield Problem(path, value, f"{message} {owner}")


def secrets(cfg: "EnvironmentConfig") -> Iterable[SecretSpec]:
    if cfg.proxmox is None:
        return
    token = dict(API_TOKEN)
    if cfg.proxmox.api_token_id is not None:
        # A stand-in (the offline synth) carries the declared identity, as the real token must.
        token["template"] = cfg.proxmox.api_token_id + "={}"
    yield SecretSpec("proxmoxApiToken", "Proxmox API token, USER@REALM!TOKENID=SECRET", **token)
    yield SecretSpec("sshPrivateKey", "SSH private key of the operator (snippet uploads, provisioning)")


def hosts(cfg: "EnvironmentConfig") -> Iterable[DeclaredHost]:
    if cfg.proxmox is None:
        return
    for i, vm in enumerate(cfg.proxmox.vms):
        template = next((t for t in cfg.proxmox.templates if t.name == vm.template), None)
        yield DeclaredHost(name=vm.name, platform=PLATFORM_VM, path=f"proxmox.vms[{i}]",
                           address=None if vm.ipv4 == "dhcp" else vm.ipv4,
                           distribution=template.distribution if template else None, groups=vm.groups,
                           address_path=f"proxmox.vms[{i}].ipv4")
    for i, container in enumerate(cfg.proxmox.containers):
        yield DeclaredHost(name=container.name, platform=PLATFORM_LXC, path=f"proxmox.containers[{i}]",
                           address=None if container.ipv4 == "dhcp" else container.ipv4,
                           distribution=container.distribution, groups=container.groups,
                           address_path=f"proxmox.containers[{i}].ipv4")



def conflicts(staging: "EnvironmentConfig", production: "EnvironmentConfig") -> Iterable[Problem]:
    """Staging must not point at production's Proxmox nodes, VLANs or VMID range (VMIDs are
    cluster-wide and a reused one is silently adopted, bpg#2925)."""
    stage, prod = staging.proxmox, production.proxmox
    name = production.environment.name
    if stage is not None and prod is not None:
        prod_nodes = {node.name: node for node in prod.nodes}
        prod_addresses = {node.address for node in prod.nodes}
        for i, node in enumerate(stage.nodes):
            if node.name in prod_nodes or node.address in prod_addresses:
                yield Problem(f"proxmox.nodes[{i}]", node.name, f"is a node of the production environment {name}")
        a, b = stage.vmid_range, prod.vmid_range
        if a.first <= b.last and b.first <= a.last:
            yield Problem("proxmox.vmid_range", f"{a.first}-{a.last}",
                          f"overlaps the VMID range {b.first}-{b.last} of the production environment {name}")
    prod_vlans = {net.vlan: key for key, net in production.environment.networks.items() if net.vlan is not None}
    for key, net in sorted(staging.environment.networks.items()):
        if net.vlan in prod_vlans:
            yield Problem(f"environment.networks.{key}.vlan", net.vlan,
                          f"is the VLAN of the production network {prod_vlans[net.vlan]} of {name}")
