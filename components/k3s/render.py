"""Pure renderers for k3s nodes: config.yaml, the install/uninstall scripts, the remote command
line and the kubeconfig read back from the first server. No Pulumi here: plain values in, text out.

k3s facts (docs.k3s.io): settings live in /etc/rancher/k3s/config.yaml, whose keys are the CLI flags
without the leading dashes (`token-file`, `cluster-init`, `server`, `tls-san`, `cluster-cidr`,
`service-cidr`, `disable`, `secrets-encryption`, `node-label`, `node-taint`, `node-name`); the install
script takes INSTALL_K3S_VERSION / INSTALL_K3S_EXEC / INSTALL_K3S_SKIP_DOWNLOAD and leaves
k3s-uninstall.sh (server) or k3s-agent-uninstall.sh (agent) behind.

Options beyond the defaults (each renders nothing unless set): extra server/agent arguments
(components/k3s/flags.py), the flannel backend and interface, an external datastore (its endpoint,
which holds the password, reaches /etc/rancher/k3s/config.yaml.d/ from stdin), a private registry
or pull-through mirror (/etc/rancher/k3s/registries.yaml, from stdin: it may hold credentials) and
an air-gapped install from a local mirror, every file pinned by sha256 (docs.k3s.io
installation/airgap: binary at /usr/local/bin/k3s, images under agent/images/, the installer run
with INSTALL_K3S_SKIP_DOWNLOAD=true).
"""

from __future__ import annotations

import base64
import re
import shlex
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jinja2
import yaml

from components import ssh
from components.k3s import flags
from components.k3s.installers import Installer, for_version as installer_for

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
MANIFEST_DELIMITER = "HOMELAB_K3S_MANIFEST"
#: k3s applies every manifest in this directory on each server (docs.k3s.io: auto-deploying manifests).
MANIFESTS_DIR = "/var/lib/rancher/k3s/server/manifests"
DEFAULT_READY_TIMEOUT = 600
# Files whose content may hold a credential: written from stdin, never from the script's text.
DATASTORE_DROP_IN = "/etc/rancher/k3s/config.yaml.d/50-homelab-datastore.yaml"
REGISTRIES_FILE = "/etc/rancher/k3s/registries.yaml"
# Release assets per architecture (k3s install.sh: SUFFIX "" / -arm64 / -armhf; the release's
# k3s-airgap-images-<arch>.tar.zst).
AIRGAP_BINARIES = {"amd64": "k3s", "arm64": "k3s-arm64", "arm": "k3s-armhf"}
AIRGAP_IMAGES = {arch: f"k3s-airgap-images-{arch}.tar.zst" for arch in AIRGAP_BINARIES}
SHA256 = re.compile(r"^[0-9a-f]{64}$")

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
    flannel_backend: str | None = None  # vxlan (k3s default), host-gw, wireguard-native, none
    external_datastore: bool = False  # servers share a PostgreSQL/MySQL datastore: no embedded etcd
    extra_args: tuple[str, ...] = ()  # valid `k3s server` flags (flags.arg_problem), same on every server
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
    flannel_iface: str | None = None
    extra_args: tuple[str, ...] = ()  # valid `k3s agent` flags, agents only (servers take ServerSettings')


@dataclass(frozen=True)
class Airgap:
    """Binary, images and installer from a local mirror instead of GitHub, each pinned by sha256.

    `url` holds the release's assets under their release names (k3s, k3s-arm64,
    k3s-airgap-images-amd64.tar.zst, ...) and the release's install.sh."""

    url: str
    installer_sha256: str
    binaries: Mapping[str, str]  # architecture (amd64, arm64, arm) -> sha256 of the k3s binary
    images: Mapping[str, str]  # architecture -> sha256 of k3s-airgap-images-<arch>.tar.zst

    def __post_init__(self) -> None:
        sums = [self.installer_sha256, *self.binaries.values(), *self.images.values()]
        if not all(SHA256.match(value) for value in sums):
            raise ValueError("air-gap checksums must be sha256: 64 lowercase hex digits")
        unknown = sorted((set(self.binaries) | set(self.images)) - set(AIRGAP_BINARIES))
        if unknown or not self.binaries:
            raise ValueError(f"air-gap architectures must be among {sorted(AIRGAP_BINARIES)} (got {unknown or 'none'})")

    @property
    def base(self) -> str:
        return self.url.rstrip("/")

    def assets(self) -> list[tuple[str, str, str, str]]:
        """(kind, architecture, file, sha256) of every pinned asset, sorted."""
        rows = [("binary", arch, AIRGAP_BINARIES[arch], sha) for arch, sha in self.binaries.items()]
        rows += [("images", arch, AIRGAP_IMAGES[arch], sha) for arch, sha in self.images.items()]
        return sorted(rows)


def _node_keys(node: NodeSettings) -> dict[str, object]:
    keys: dict[str, object] = {"node-name": node.name, "token-file": TOKEN_FILE}
    if node.labels:
        keys["node-label"] = [f"{k}={v}" for k, v in sorted(node.labels.items())]
    if node.taints:
        keys["node-taint"] = sorted(node.taints)
    if node.flannel_iface:
        keys["flannel-iface"] = node.flannel_iface
    return keys


def _extra(args: Sequence[str], role: Role) -> dict[str, object]:
    for arg in args:
        problem = flags.arg_problem(arg, role)
        if problem:
            raise ValueError(f"extra {role} argument: {problem}")
    return flags.to_config(args)


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
    if settings.flannel_backend:
        config["flannel-backend"] = settings.flannel_backend
    if settings.snapshots is not None:
        config.update(snapshot_keys(settings.snapshots))
    config.update(_extra(settings.extra_args, "server"))
    if settings.external_datastore:
        pass  # every server reaches the datastore (its endpoint comes on stdin): no etcd to init or join
    elif join_address is None:
        config["cluster-init"] = True
    else:
        config["server"] = server_url(join_address)
    return config


def agent_config(node: NodeSettings, join_address: str) -> dict[str, object]:
    config = _node_keys(node)
    config.update(_extra(node.extra_args, "agent"))
    config["server"] = server_url(join_address)
    return config


def datastore_endpoint(kind: Literal["postgres", "mysql"], host: str, port: int, database: str, user: str,
                       password: str, params: Mapping[str, str] | None = None) -> str:
    """The datastore-endpoint k3s expects (docs.k3s.io datastore): postgres://user:pass@host:port/db
    (user and password percent-encoded) or mysql://user:pass@tcp(host:port)/db; params as a query."""
    query = ("?" + urllib.parse.urlencode(sorted((params or {}).items()))) if params else ""
    if kind == "postgres":
        credentials = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}"
        return f"postgres://{credentials}@{host}:{port}/{database}{query}"
    return f"mysql://{user}:{password}@tcp({host}:{port})/{database}{query}"


def datastore_drop_in(endpoint: str) -> str:
    """The config.yaml.d drop-in that carries the (secret) endpoint: k3s merges it into config.yaml."""
    return config_yaml({"datastore-endpoint": endpoint})


@dataclass(frozen=True)
class RegistryLogin:
    username: str
    password: str
    ca_file: str | None = None
    insecure_skip_verify: bool = False


def registries_yaml(mirrors: Mapping[str, Sequence[str]], configs: Mapping[str, RegistryLogin]) -> str:
    """/etc/rancher/k3s/registries.yaml (docs.k3s.io installation/private-registry): mirrors with
    their endpoints, and per registry host the login and TLS settings."""
    doc: dict[str, object] = {}
    if mirrors:
        doc["mirrors"] = {name: {"endpoint": list(endpoints)} for name, endpoints in sorted(mirrors.items())}
    if configs:
        entries: dict[str, object] = {}
        for host, login in sorted(configs.items()):
            entry: dict[str, object] = {"auth": {"username": login.username, "password": login.password}}
            tls: dict[str, object] = {}
            if login.ca_file:
                tls["ca_file"] = login.ca_file
            if login.insecure_skip_verify:
                tls["insecure_skip_verify"] = True
            if tls:
                entry["tls"] = tls
            entries[host] = entry
        doc["configs"] = entries
    return config_yaml(doc)


def stdin_payload(token: str, files: Mapping[str, str]) -> str:
    """What a node's command gets on stdin when it has secret files: the token on the first line,
    then one line per file, `PATH BASE64`, sorted. Without secret files stdin is the token alone."""
    if not files:
        return token
    lines = [token, *(f"{path} {base64.b64encode(text.encode()).decode()}" for path, text in sorted(files.items()))]
    return "\n".join(lines) + "\n"


def config_yaml(config: Mapping[str, object]) -> str:
    # libyaml's emitter (one per node, so it counts at scale); same text as the pure-Python one here.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(dict(config), Dumper=dumper, sort_keys=True, default_flow_style=False)


def install_script(
    node: NodeSettings,
    version: str,
    config: Mapping[str, object],
    ready_timeout: int = DEFAULT_READY_TIMEOUT,
    manifests: Mapping[str, str] | None = None,
    wait_address: str | None = None,
    secret_files: Sequence[str] = (),
    airgap: Airgap | None = None,
    installer: Installer | None = None,
) -> str:
    """The node's install script. `manifests` (file name -> YAML, servers only) go to k3s's
    auto-deploy directory before k3s starts; `wait_address` (the VIP) must answer on the API port at
    the end. `secret_files`: paths whose content comes on stdin after the token (stdin_payload),
    written 0600; a change restarts k3s like a config change. `airgap`: binary, images and installer
    from the mirror, verified, never from the internet. `installer`: the install script and its
    sha256 (default: the row of components/k3s/installers.py for `version`); the node refuses to
    run an installer with another checksum."""
    if not is_release_tag(version):
        raise ValueError(f"k3s version {version!r} is not a release tag such as v1.31.4+k3s1")
    if airgap is None and installer is None:
        installer = installer_for(version)
    text = config_yaml(config).rstrip("\n")
    if CONFIG_DELIMITER in text:
        raise ValueError(f"config.yaml of {node.name} contains the heredoc delimiter {CONFIG_DELIMITER}")
    files = sorted((manifests or {}).items())
    for file_name, body in files:
        if MANIFEST_DELIMITER in body or not re.fullmatch(r"[a-z0-9][a-z0-9.-]*\.yaml", file_name):
            raise ValueError(f"manifest {file_name!r} of {node.name} has an unsafe name or the heredoc delimiter")
    return _ENV.get_template("install.sh.j2").render(
        role=node.role,
        node_name=node.name,
        version=version,
        installer_url=f"{airgap.base}/install.sh" if airgap else installer.url,
        installer_sha256=airgap.installer_sha256 if airgap else installer.sha256,
        ready_timeout=int(ready_timeout),
        token_file=TOKEN_FILE,
        config_yaml=text,
        manifests=[(name, body.rstrip("\n")) for name, body in files],
        manifests_dir=MANIFESTS_DIR,
        wait_address=wait_address,
        api_port=API_PORT,
        secret_files=sorted(secret_files),
        airgap=airgap,
    )


def uninstall_script(node: NodeSettings) -> str:
    return _ENV.get_template("uninstall.sh.j2").render(role=node.role, node_name=node.name)


def with_generation(script: str, generation: list[str]) -> str:
    """The script with the ids of the host's readiness resources as a trailing comment.

    Those ids are new when the machine is really replaced (a VM's readiness check is re-created
    with its MAC addresses), so the command's text changes and the install re-runs on the new
    machine as an update of the same idempotent script, never a replacement (whose delete would
    run the uninstall script)."""
    return f"{script.rstrip()}\n# host generation: {' '.join(generation)}\n"


def remote_command(script: str, ssh_user: str) -> str:
    """The command line a remote.Command runs: the script as `bash -c` argument, as root. The
    script holds no secret (the token comes on stdin), so it may be seen in argv and in state."""
    return ssh.as_root(["bash", "-c", script], ssh_user)


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


def read_ca_prefix_command(ssh_user: str) -> str:
    """Print `K10<ca hash>` from the first server's token file, never the password after it."""
    return ssh.as_root(["sed", "-n", r"s/^\(K10[0-9a-f]\{64\}\)::.*$/\1/p", SERVER_TOKEN_PATH], ssh_user)


def read_kubeconfig_command(ssh_user: str) -> str:
    return ssh.as_root(["cat", KUBECONFIG_PATH], ssh_user)


PROVIDER_CREDENTIAL_SCRIPT = "provider-credential.sh"


def provider_credential_command(ssh_user: str) -> str:
    """Ensures the provider's ServiceAccount token and prints k3s.yaml, then the token (a 2nd document)."""
    return remote_command((SCRIPTS_DIR / PROVIDER_CREDENTIAL_SCRIPT).read_text(), ssh_user)


def token_kubeconfig(text: str, api_server: str, name: str) -> str:
    """The provider's kubeconfig: the cluster (CA, endpoint, names) from k3s.yaml, the user a token.

    The admin client certificate in k3s.yaml expires (k3s renews it on disk about yearly); the
    ServiceAccount token of provider-credential.sh does not, so the state's copy stays valid."""
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    if len(documents) != 2 or not isinstance(documents[1], dict) or not documents[1].get("token"):
        raise ValueError("the provider credential read from the first server has no token")
    doc = yaml.safe_load(rewrite_kubeconfig(yaml.safe_dump(documents[0]), api_server, name))
    doc["users"] = [{"name": name, "user": {"token": str(documents[1]["token"])}}]
    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)


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
