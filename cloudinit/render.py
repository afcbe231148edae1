"""Pure renderers of the shared base provisioning, one definition for every kind of host.

The same `ProvisionSpec` renders two ways:
- `user_data(spec)`: a `#cloud-config` document (Proxmox VMs, Linode metadata, Incus instances);
- `provision_script(spec)`: `cloudinit/scripts/provision.sh` with the host's parameters in front, for
  hosts provisioned over SSH (onboarded machines, Linode instances without the Metadata service).

Both give the operator account (sudo, SSH keys only), hostname and FQDN, /etc/hosts entries, the
base packages under each distribution family's names, the timezone and the extras of the host's
roles. Same spec in, byte-identical text out.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import yaml

from components.catalog import Distribution

SCRIPTS = Path(__file__).parent / "scripts"

# Waits for cloud-init to finish on first boot and fails when it reports an error. Exit code 2
# (cloud-init >= 23.4: finished with recoverable errors such as deprecation warnings) still
# leaves a usable host; its --long output says what to look at.
CLOUD_INIT_WAIT = 'cloud-init status --wait --long || test "$?" -eq 2'
BASE_PACKAGES = ("curl", "git", "htop", "sudo", "vim")


@dataclass(frozen=True)
class Family:
    """How a distribution family names and installs the base packages."""

    admin_group: str
    renames: dict[str, str] = field(default_factory=dict)
    # Packages the image already provides under another name that conflicts with ours.
    provided: frozenset[str] = frozenset()
    # Packages that live in an extra repository, installed after `repository_package`.
    extra_repository_package: str | None = None
    from_extra_repository: frozenset[str] = frozenset()


FAMILIES: dict[str, Family] = {
    "debian": Family(admin_group="sudo"),
    "rhel": Family(
        admin_group="wheel",
        renames={"vim": "vim-enhanced"},
        # Rocky ships curl-minimal, which provides /usr/bin/curl and conflicts with `curl`.
        provided=frozenset({"curl"}),
        # htop is in EPEL; Rocky's extras repository carries epel-release.
        extra_repository_package="epel-release",
        from_extra_repository=frozenset({"htop"}),
    ),
}


@dataclass(frozen=True)
class RoleExtras:
    """What a role adds to the base: packages per family and files."""

    packages: dict[str, tuple[str, ...]]
    files: tuple[tuple[str, str], ...]  # (path, content), mode 0644, owned by root
    # Kernel arguments added on Raspberry Pi boards (cmdline.txt), effective after a reboot.
    pi_kernel_args: tuple[str, ...] = ()


JOURNALD_DROP_IN = "/etc/systemd/journald.conf.d/90-homelab-persistent.conf"

# k3s prerequisites (docs.k3s.io/installation/requirements): bridged traffic through iptables,
# forwarding on, the overlay module; SELinux policy support on Rocky.
ROLES: dict[str, RoleExtras] = {
    "k3s": RoleExtras(
        packages={"debian": ("ca-certificates", "iptables"), "rhel": ("container-selinux", "iptables-nft")},
        files=(
            ("/etc/modules-load.d/k3s.conf", "br_netfilter\noverlay\n"),
            (
                "/etc/sysctl.d/90-k3s.conf",
                "net.bridge.bridge-nf-call-ip6tables = 1\n"
                "net.bridge.bridge-nf-call-iptables = 1\n"
                "net.ipv4.ip_forward = 1\n",
            ),
            # Alloy (a DaemonSet on every k3s node) reads the journal from /var/log/journal, which
            # Rocky GenericCloud does not create (Storage=auto: volatile in /run/log/journal), and
            # exits when the path is missing. Storage=persistent makes journald create it
            # (systemd/systemd man/journald.conf.xml, Storage=); journald is restarted to apply it.
            (JOURNALD_DROP_IN, "[Journal]\nStorage=persistent\n"),
        ),
        # Raspberry Pi OS leaves the memory cgroup off; k3s will not start without it.
        pi_kernel_args=("cgroup_enable=memory", "cgroup_memory=1"),
    ),
}

# Inventory groups that imply a role's extras.
GROUP_ROLES = {"k3s_server": "k3s", "k3s_agent": "k3s", "k3s": "k3s"}


def roles_for_groups(groups: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The role extras a host's inventory groups ask for, sorted."""
    return tuple(sorted({GROUP_ROLES[g] for g in groups if g in GROUP_ROLES}))


@dataclass(frozen=True)
class HostsEntry:
    """One /etc/hosts line: an address and its names (FQDN first)."""

    address: str
    names: tuple[str, ...]

    def line(self) -> str:
        return " ".join((self.address, *self.names))


@dataclass(frozen=True)
class ProvisionSpec:
    """What every host gets: the operator account, name, hosts entries and base packages."""

    distribution: Distribution
    user: str
    ssh_authorized_keys: tuple[str, ...]
    timezone: str = "UTC"
    hostname: str | None = None  # None: left to per-host meta-data
    fqdn: str | None = None
    guest_agent: bool = True
    extra_packages: tuple[str, ...] = field(default_factory=tuple)
    shell: str = "/bin/bash"
    hosts_entries: tuple[HostsEntry, ...] = ()
    roles: tuple[str, ...] = ()  # keys of ROLES, e.g. roles_for_groups(("k3s_agent",))
    python3: bool = False  # hosts later managed over SSH by Python tooling

    def __post_init__(self) -> None:
        unknown = sorted(set(self.roles) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown roles {unknown}; known: {sorted(ROLES)}")
        if self.distribution.family not in FAMILIES:
            raise ValueError(f"no package mapping for family {self.distribution.family!r}")


def _family(spec: ProvisionSpec) -> Family:
    return FAMILIES[spec.distribution.family]


def admin_group(spec: ProvisionSpec) -> str:
    """The group whose members may sudo: the distribution's own when the catalog says, else the family's."""
    return spec.distribution.admin_group or _family(spec).admin_group


def packages(spec: ProvisionSpec) -> tuple[str, ...]:
    """Packages installed from the distribution's own repositories, under its names, sorted."""
    family = _family(spec)
    wanted = set(BASE_PACKAGES) | set(spec.extra_packages)
    if spec.guest_agent:
        wanted.add(spec.distribution.guest_agent_package)
    if spec.python3:
        wanted.add("python3")
    for role in spec.roles:
        wanted |= set(ROLES[role].packages.get(spec.distribution.family, ()))
    wanted -= family.provided | family.from_extra_repository
    return tuple(sorted(family.renames.get(name, name) for name in wanted))


def extra_repository_packages(spec: ProvisionSpec) -> tuple[str, ...]:
    """Packages installed after the family's extra repository (EPEL on Rocky), sorted."""
    family = _family(spec)
    wanted = set(BASE_PACKAGES) | set(spec.extra_packages)
    return tuple(sorted(wanted & family.from_extra_repository))


def role_files(spec: ProvisionSpec) -> tuple[tuple[str, str], ...]:
    """(path, content) of every file the host's roles add, sorted by path."""
    return tuple(sorted(f for role in spec.roles for f in ROLES[role].files))


def pi_kernel_args(spec: ProvisionSpec) -> tuple[str, ...]:
    """Kernel arguments the host's roles need on a Raspberry Pi, sorted."""
    return tuple(sorted({arg for role in spec.roles for arg in ROLES[role].pi_kernel_args}))


def user_data(spec: ProvisionSpec) -> str:
    """The #cloud-config document for a host, deterministic for the same spec."""
    distro = spec.distribution
    family = _family(spec)
    doc: dict = {
        "users": [{
            "name": spec.user,
            "groups": [admin_group(spec)],
            "shell": spec.shell,
            "sudo": "ALL=(ALL) NOPASSWD:ALL",
            "lock_passwd": True,
            "ssh_authorized_keys": list(spec.ssh_authorized_keys),
        }],
        "ssh_pwauth": False,
        "disable_root": True,
        "timezone": spec.timezone,
        "package_update": True,
        "packages": list(packages(spec)),
        # cloud-init's RHEL distro class sets prefer_fqdn = True (cloudinit/distros/rhel.py): a Rocky
        # guest would take its FQDN (the meta-data's local-hostname) as hostname, and k3s and the
        # inventory would see a different node name than on Debian. Short hostname everywhere.
        "prefer_fqdn_over_hostname": False,
    }
    if spec.hostname:
        doc["hostname"] = spec.hostname
        doc["fqdn"] = spec.fqdn or spec.hostname
        # "localhost" keeps cloud-init to the 127.0.1.1 line on every boot and leaves the
        # entries written below in place ("true" would re-render the file from its template).
        doc["manage_etc_hosts"] = "localhost"
    write_files = [
        {"path": path, "content": content, "owner": "root:root", "permissions": "0644"}
        for path, content in role_files(spec)
    ]
    if spec.hosts_entries:
        write_files.append({
            "path": "/etc/hosts",
            "append": True,
            "content": "".join(entry.line() + "\n" for entry in spec.hosts_entries),
        })
    if write_files:
        doc["write_files"] = write_files
    runcmd: list[list[str]] = []
    if family.extra_repository_package and extra_repository_packages(spec):
        runcmd.append(["dnf", "-y", "install", family.extra_repository_package])
        runcmd.append(["dnf", "-y", "install", *extra_repository_packages(spec)])
    if spec.roles and role_files(spec):
        runcmd.append(["systemctl", "restart", "systemd-modules-load.service"])
        runcmd.append(["sysctl", "--system"])
    if any(path == JOURNALD_DROP_IN for path, _ in role_files(spec)):
        runcmd.append(["systemctl", "restart", "systemd-journald.service"])
    if spec.guest_agent:
        runcmd.append(["systemctl", "enable", "--now", distro.guest_agent_package])
    if runcmd:
        doc["runcmd"] = runcmd
    return "#cloud-config\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=True, default_flow_style=False)


class _Dumper(yaml.SafeDumper):
    """safe_dump, with multi-line strings (file contents) as literal blocks for readability."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(SCRIPTS),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
    auto_reload=False,  # templates do not change during a run: no stat() per host
)
_ENV.filters["shquote"] = lambda value: shlex.quote(str(value))


def provision_script(spec: ProvisionSpec, disable_root: bool = True) -> str:
    """provision.sh with the host's parameters in front: pass it on stdin to `sudo bash -s`.

    `disable_root=False` keeps root's key login (never passwords) for hosts whose provisioning
    connection is root itself (a Linode instance provisioned over SSH), so that re-runs still connect.
    """
    if not spec.hostname:
        raise ValueError("provision_script needs the spec's hostname")
    family = _family(spec)
    body = (SCRIPTS / "provision.sh").read_text()
    shebang, _, body = body.partition("\n")
    params = _ENV.get_template("provision-params.sh.j2").render(
        spec=spec,
        fqdn=spec.fqdn or spec.hostname,
        package_manager=spec.distribution.package_manager,
        admin_group=admin_group(spec),
        packages=" ".join(packages(spec)),
        extra_repository_package=family.extra_repository_package or "",
        extra_repository_packages=" ".join(extra_repository_packages(spec)),
        ssh_keys="\n".join(spec.ssh_authorized_keys),
        hosts_entries="\n".join(entry.line() for entry in spec.hosts_entries),
        files=role_files(spec),
        pi_kernel_args=" ".join(pi_kernel_args(spec)),
        disable_root="yes" if disable_root else "no",
    )
    return f"{shebang}\n{params}{body}"
