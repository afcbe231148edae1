"""Pure renderers for k3s nodes: config.yaml, the install/uninstall scripts, the remote command
line and the kubeconfig read back from the first server. No Pulumi here: plain values in, text out.

k3s facts (docs.k3s.io): settings live in /etc/rancher/k3s/config.yaml, whose keys are the CLI flags
without the leading dashes (`token-file`, `cluster-init`, `server`, `tls-san`, `cluster-cidr`,
`service-cidr`, `disable`, `secrets-encryption`, `node-label`, `node-taint`, `node-name`); the install
script takes INSTALL_K3S_VERSION / INSTALL_K3S_EXEC / INSTALL_K3S_SKIP_DOWNLOAD and leaves
k3s-uninstall.sh (server) or k3s-agent-uninstall.sh (agent) behind.
"""

from __future__ import annotations

import re
import shlex
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jinja2
import yaml

API_PORT = 6443
TOKEN_FILE = "/etc/rancher/k3s/cluster-token"
# Servers only: the agents' own secret (k3s server --agent-token-file). Agents never hold the server
# token, which is full cluster admin (docs.k3s.io/cli/token).
AGENT_TOKEN_FILE = "/etc/rancher/k3s/agent-token"
# k3s writes the server token in secure format here on every server (docs.k3s.io/cli/token, "Server").
SERVER_TOKEN_PATH = "/var/lib/rancher/k3s/server/token"
# Secure ("full") token: K10<sha256 of the cluster CA, hex>::<user>:<password>. Servers authenticate
# as user `server`, agents as `node` (k3s-io/k3s docs/adrs/agent-join-token.md). A joining node
# checks the CA hash before it sends the password; a short token trusts any CA.
CA_PREFIX = re.compile(r"^K10[0-9a-f]{64}$")
SERVER_USER, AGENT_USER = "server", "node"
KUBECONFIG_PATH = "/etc/rancher/k3s/k3s.yaml"
CONFIG_DELIMITER = "HOMELAB_K3S_CONFIG"
DEFAULT_READY_TIMEOUT = 600

Role = Literal["server", "agent"]

# A k3s release tag: v<major>.<minor>.<patch>[-rcN]+k3s<N>, e.g. v1.31.4+k3s1 or v1.32.0-rc1+k3s1.
RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+(-rc\d+)?\+k3s\d+$")
TAINT = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_./]*(=[-A-Za-z0-9_.]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$")

SCRIPTS_DIR = Path(__file__).parent / "scripts"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(SCRIPTS_DIR),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
    auto_reload=False,  # templates do not change during a run: no stat() per host
)
_ENV.filters["q"] = lambda value: shlex.quote(str(value))


def is_release_tag(version: str) -> bool:
    return bool(RELEASE_TAG.match(version))


def installer_url(version: str) -> str:
    """The install script as published with that very release (pinned like the binary)."""
    tag = urllib.parse.quote(version, safe="")
    return f"https://raw.githubusercontent.com/k3s-io/k3s/{tag}/install.sh"


def server_url(address: str) -> str:
    return f"https://{address}:{API_PORT}"


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return list(seen)


@dataclass(frozen=True)
class EtcdS3:
    """Where k3s copies its etcd snapshots (S3-compatible, e.g. MinIO); credentials are not here."""

    endpoint: str  # host[:port], no scheme
    bucket: str
    folder: str
    region: str = "us-east-1"
    insecure: bool = False  # http instead of https


@dataclass(frozen=True)
class EtcdSnapshots:
    """Scheduled embedded-etcd snapshots (docs.k3s.io/cli/etcd-snapshot): a 5-field cron and the
    number kept per node; k3s prunes the S3 copies with the same retention."""

    schedule_cron: str
    retention: int
    s3: EtcdS3 | None = None


@dataclass(frozen=True)
class ServerSettings:
    """What must be identical on every server of a cluster."""

    cluster_cidr: str
    service_cidr: str
    disable: tuple[str, ...] = ()
    tls_san: tuple[str, ...] = ()
    snapshots: EtcdSnapshots | None = None


# The S3 credentials live in a drop-in k3s reads after config.yaml (docs.k3s.io/installation/
# configuration, "Multiple Config Files": /etc/rancher/k3s/config.yaml.d/*.yaml; k3s-io/k3s#7316),
# written from stdin by etcd-s3-credentials.sh.j2: never in config.yaml, argv or the state.
S3_CREDENTIALS_FILE = "/etc/rancher/k3s/config.yaml.d/50-etcd-s3-credentials.yaml"
SNAPSHOT_DIR = "/var/lib/rancher/k3s/server/db/snapshots"


def snapshot_keys(snapshots: EtcdSnapshots) -> dict[str, object]:
    """config.yaml keys of the snapshot schedule and the S3 copy (flags without their dashes)."""
    keys: dict[str, object] = {
        "etcd-snapshot-schedule-cron": snapshots.schedule_cron,
        "etcd-snapshot-retention": int(snapshots.retention),
    }
    if snapshots.s3 is not None:
        keys.update({
            "etcd-s3": True,
            "etcd-s3-endpoint": snapshots.s3.endpoint,
            "etcd-s3-bucket": snapshots.s3.bucket,
            "etcd-s3-folder": snapshots.s3.folder,
            "etcd-s3-region": snapshots.s3.region,
        })
        if snapshots.s3.insecure:
            keys["etcd-s3-insecure"] = True
    return keys


def s3_credentials_yaml(access_key: str, secret_key: str) -> str:
    """The drop-in's content: the only place the S3 credentials are written (a secret Output's apply)."""
    return config_yaml({"etcd-s3-access-key": access_key, "etcd-s3-secret-key": secret_key})


RESTORE_PATH = "/usr/local/sbin/homelab-k3s-restore"


def etcd_backup_script(node_name: str, first: bool, s3: bool) -> str:
    """Installs the node's restore script and, with S3, writes the credentials drop-in from stdin
    (0600), restarting k3s when it changed."""
    restore = restore_script(node_name, first).rstrip("\n")
    if "HOMELAB_K3S_RESTORE" in restore:
        raise ValueError("the restore script contains its heredoc delimiter")
    return _ENV.get_template("etcd-backup.sh.j2").render(
        node_name=node_name, credentials_file=S3_CREDENTIALS_FILE, restore_path=RESTORE_PATH,
        s3=s3, restore_script=restore)


def etcd_backup_remove_script(node_name: str) -> str:
    return _ENV.get_template("etcd-backup-remove.sh.j2").render(
        node_name=node_name, restore_path=RESTORE_PATH, credentials_file=S3_CREDENTIALS_FILE)


def restore_script(node_name: str, first: bool, snapshot_dir: str = SNAPSHOT_DIR) -> str:
    """The restore of a server from an etcd snapshot (docs.k3s.io/cli/etcd-snapshot, "Restoring
    Snapshots"): the first server runs `k3s server --cluster-reset --cluster-reset-restore-path`,
    the others stop, drop their etcd data and rejoin. Takes the snapshot name as $1 (first server)."""
    return _ENV.get_template("restore.sh.j2").render(node_name=node_name, first=first, snapshot_dir=snapshot_dir)


@dataclass(frozen=True)
class NodeSettings:
    name: str
    role: Role
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[str, ...] = ()


def _node_keys(node: NodeSettings) -> dict[str, object]:
    keys: dict[str, object] = {"node-name": node.name, "token-file": TOKEN_FILE}
    if node.labels:
        keys["node-label"] = [f"{k}={v}" for k, v in sorted(node.labels.items())]
    if node.taints:
        keys["node-taint"] = sorted(node.taints)
    return keys


def server_config(
    node: NodeSettings,
    settings: ServerSettings,
    server_addresses: Sequence[str],
    join_address: str | None,
) -> dict[str, object]:
    """config.yaml of a server: the first (join_address None) initialises embedded etcd, the
    others join it. tls-san holds the configured names (VIP first) then every server address."""
    config = _node_keys(node)
    config.update(
        {
            "agent-token-file": AGENT_TOKEN_FILE,
            "cluster-cidr": settings.cluster_cidr,
            "service-cidr": settings.service_cidr,
            "secrets-encryption": True,
            "tls-san": _unique([*settings.tls_san, *server_addresses]),
            "write-kubeconfig-mode": "0600",
        }
    )
    if settings.disable:
        config["disable"] = sorted(settings.disable)
    if settings.snapshots is not None:
        config.update(snapshot_keys(settings.snapshots))
    if join_address is None:
        config["cluster-init"] = True
    else:
        config["server"] = server_url(join_address)
    return config


def agent_config(node: NodeSettings, join_address: str) -> dict[str, object]:
    config = _node_keys(node)
    config["server"] = server_url(join_address)
    return config


def config_yaml(config: Mapping[str, object]) -> str:
    # libyaml's emitter (one per node, so it counts at scale); same text as the pure-Python one here.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(dict(config), Dumper=dumper, sort_keys=True, default_flow_style=False)


def install_script(
    node: NodeSettings,
    version: str,
    config: Mapping[str, object],
    ready_timeout: int = DEFAULT_READY_TIMEOUT,
) -> str:
    if not is_release_tag(version):
        raise ValueError(f"k3s version {version!r} is not a release tag such as v1.31.4+k3s1")
    text = config_yaml(config).rstrip("\n")
    if CONFIG_DELIMITER in text:
        raise ValueError(f"config.yaml of {node.name} contains the heredoc delimiter {CONFIG_DELIMITER}")
    return _ENV.get_template("install.sh.j2").render(
        role=node.role,
        node_name=node.name,
        version=version,
        installer_url=installer_url(version),
        ready_timeout=int(ready_timeout),
        token_file=TOKEN_FILE,
        agent_token_file=AGENT_TOKEN_FILE,
        config_yaml=text,
    )


def uninstall_script(node: NodeSettings) -> str:
    return _ENV.get_template("uninstall.sh.j2").render(role=node.role, node_name=node.name)


def remote_command(script: str, ssh_user: str) -> str:
    """The command line a remote.Command runs: the script as `bash -c` argument, as root. The
    script holds no secret (the token comes on stdin), so it may be seen in argv and in state."""
    argv = ["bash", "-c", script]
    if ssh_user != "root":
        argv = ["sudo", "--non-interactive", *argv]
    return shlex.join(argv)


def password_of(token: str) -> str:
    """The password of a k3s token, short (`<password>`) or secure (`K10<hash>::<user>:<password>`)."""
    if token.startswith("K10") and "::" in token:
        credentials = token.split("::", 1)[1]
        return credentials.split(":", 1)[1] if ":" in credentials else credentials
    return token


def secure_token(ca_prefix: str, user: str, token: str) -> str:
    """The secure token of `user` (server or node) for the cluster whose CA hash `ca_prefix` gives."""
    prefix = ca_prefix.strip()
    if not CA_PREFIX.match(prefix):
        raise ValueError("the first server's token file gave no K10<sha256> CA hash")
    password = password_of(token)
    if not password or any(c.isspace() for c in password):
        raise ValueError("a k3s token password must be non-empty, without spaces or newlines")
    return f"{prefix}::{user}:{password}"


def server_stdin(server_token: str, agent_token: str) -> str:
    """What a server's install script reads on stdin: the server token, then the agent token."""
    for token in (server_token, agent_token):
        if not token or "\n" in token:
            raise ValueError("a k3s token must be one non-empty line")
    return f"{server_token}\n{agent_token}\n"


def read_ca_prefix_command(ssh_user: str) -> str:
    """Print `K10<ca hash>` from the first server's token file, never the password after it."""
    argv = ["sed", "-n", r"s/^\(K10[0-9a-f]\{64\}\)::.*$/\1/p", SERVER_TOKEN_PATH]
    if ssh_user != "root":
        argv = ["sudo", "--non-interactive", *argv]
    return shlex.join(argv)


def read_kubeconfig_command(ssh_user: str) -> str:
    argv = ["cat", KUBECONFIG_PATH]
    if ssh_user != "root":
        argv = ["sudo", "--non-interactive", *argv]
    return shlex.join(argv)


def rewrite_kubeconfig(text: str, api_server: str, name: str) -> str:
    """k3s writes https://127.0.0.1:6443 and names everything `default`: point it at the cluster's
    endpoint and name cluster, user and context after the cluster."""
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or not doc.get("clusters"):
        raise ValueError("the kubeconfig read from the first server has no clusters")
    for entry in doc.get("clusters") or []:
        entry["name"] = name
        entry["cluster"]["server"] = api_server
    for entry in doc.get("users") or []:
        entry["name"] = name
    for entry in doc.get("contexts") or []:
        entry["name"] = name
        entry["context"]["cluster"] = name
        entry["context"]["user"] = name
    doc["current-context"] = name
    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)
