"""k3s clusters installed over SSH on the environment's hosts (VMs of this program or onboarded).

```yaml
homelab:k3s:
  clusters:
    - name: lothlorien
      version: v1.31.4+k3s1          # a k3s release tag, pinned; its installer sha256 in components/k3s/installers.py
      servers: [lothlorien-k3s-s1, lothlorien-k3s-s2, lothlorien-k3s-s3]   # the first initialises
      agents: [lothlorien-k3s-a1, pippin]
      vip: 10.50.0.20                # HA only: kube-vip announces it; must be in tls_san
      vip_interface: eth0            # optional: default the interface of the default route
      tls_san: [10.50.0.20, k3s.lothlorien.lan]
      cluster_cidr: 10.42.0.0/16
      service_cidr: 10.43.0.0/16
      disable: [traefik]
      node_labels: {pippin: {homelab.io/arch: arm64}}
      node_taints: {pippin: ["homelab.io/pi=true:NoSchedule"]}
    # Options real clusters use (each optional; unset, nothing changes on the nodes):
    - name: lab
      version: v1.31.4+k3s1
      servers: [lab-s1, lab-s2]      # two: valid with an external datastore (no etcd quorum)
      agents: [lab-a1]
      server_args: ["--kube-apiserver-arg=audit-log-maxage=30", "--etcd-expose-metrics"]
      agent_args: ["--kubelet-arg=max-pods=150"]   # k3s flags, checked against k3s's own list
      flannel_backend: wireguard-native            # vxlan (default), host-gw, wireguard-native, none
      flannel_iface: ens18                         # every node, unless node_flannel_iface says
      node_flannel_iface: {lab-a1: eth0}
      datastore:                                   # external datastore: any number of servers
        type: postgres                             # or mysql
        host: db.lab.lan
        port: 5432                                 # default 5432 (postgres) or 3306 (mysql)
        database: k3s
        user: k3s                                  # password: secret k3sDatastorePassword-lab
        params: {sslmode: require}
      registry:                                    # /etc/rancher/k3s/registries.yaml
        mirrors: {docker.io: ["https://registry.lab.lan:5000"]}
        logins:                                    # password: secret k3sRegistryPassword-<name>
          lan:
            host: "registry.lab.lan:5000"
            username: k3s
            ca_file: /usr/local/share/ca-certificates/lab-ca.crt
            insecure_skip_verify: false
      airgap:                                      # binary, images, installer from a local mirror
        url: https://mirror.lab.lan/k3s/v1.31.4+k3s1
        # each file's sha256 as the release's sha256sum-<arch>.txt lists it (zeros: placeholders)
        installer_sha256: "0000000000000000000000000000000000000000000000000000000000000000"
        binaries: {amd64: "0000000000000000000000000000000000000000000000000000000000000000"}
        images: {amd64: "0000000000000000000000000000000000000000000000000000000000000000"}
```
The first cluster is the one the services layers deploy to. Secret keys are per cluster like the
token: `k3sDatastorePassword` for the first cluster, `k3sDatastorePassword-<cluster>` after it;
registry passwords are `k3sRegistryPassword-<login>`.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from components.k3s import flags, installers
from components.k3s.render import RELEASE_TAG, SHA256, TAINT

from .base import DeclaredHost, Model, Problem, SecretSpec, check_hostname, strict_cidr

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

# Packaged components k3s can be told not to deploy (`--disable`).
Component = Literal["coredns", "local-storage", "metrics-server", "servicelb", "traefik"]
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


_IFACE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")  # a Linux interface name (IFNAMSIZ 16 with the NUL)
_DB_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
_LOGIN_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
_REGISTRY_HOST = re.compile(r"^(\*|[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:\d{1,5})?)$")
_ENDPOINT_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/\S*)?$")
HIDDEN = "[not shown: may hold a credential]"


def _address_or_name(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        if _DNS_NAME.match(value) and not re.fullmatch(r"[\d.]+", value):
            return value
    raise ValueError("is not an IP address or a DNS name, e.g. 10.50.0.20 or k3s.lothlorien.lan")


class Datastore(Model):
    """An external datastore the servers share instead of embedded etcd (docs.k3s.io datastore).

    The password is the secret `k3sDatastorePassword` (`k3sDatastorePassword-<cluster>` after the
    first cluster); the endpoint holding it reaches the servers on stdin, never in a script."""

    type: Literal["postgres", "mysql"] = Field(description="PostgreSQL or MySQL/MariaDB", examples=["postgres"])
    host: str = Field(description="host name or address of the database server (no credentials)",
                      examples=["db.lothlorien.lan"])
    port: int | None = Field(default=None, ge=1, le=65535, description="default 5432 (postgres) or 3306 (mysql)",
                             examples=[5432])
    database: str = Field(default="k3s", description="database k3s keeps its state in", examples=["k3s"])
    user: str = Field(default="k3s", description="database user (its password is a secret)", examples=["k3s"])
    params: dict[str, str] = Field(default_factory=dict, description="connection parameters, as a query",
                                   examples=[{"sslmode": "require"}])

    @property
    def effective_port(self) -> int:
        return self.port or (5432 if self.type == "postgres" else 3306)


class RegistryLogin(Model):
    """Credentials and TLS settings of one registry host; the password is `k3sRegistryPassword-<name>`."""

    host: str = Field(description="registry host[:port] as the mirror endpoints name it",
                      examples=["registry.lothlorien.lan:5000"])
    username: str = Field(description="registry user (its password is a secret)", examples=["k3s"])
    ca_file: str | None = Field(default=None, description="CA bundle on the nodes that signs the registry's certificate",
                                examples=["/usr/local/share/ca-certificates/lab-ca.crt"])
    insecure_skip_verify: bool = Field(default=False, description="skip TLS verification (a lab registry only)")


class Registry(Model):
    """A private registry or pull-through mirror: /etc/rancher/k3s/registries.yaml on every node."""

    mirrors: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="registry (docker.io, ghcr.io, or * for all) -> mirror endpoint URLs",
        examples=[{"docker.io": ["https://registry.lothlorien.lan:5000"]}])
    logins: dict[str, RegistryLogin] = Field(
        default_factory=dict, description="login name -> registry credentials (password: k3sRegistryPassword-<name>)",
        examples=[{"lan": {"host": "registry.lothlorien.lan:5000", "username": "k3s"}}])


class Airgap(Model):
    """An air-gapped install: the release's installer, binaries and images from a local mirror, each
    pinned by sha256 (as the release's sha256sum-<arch>.txt lists them)."""

    url: str = Field(description="mirror folder holding install.sh, k3s[-arm64|-armhf] and k3s-airgap-images-<arch>.tar.zst",
                     examples=["https://mirror.lothlorien.lan/k3s/v1.31.4+k3s1"])
    installer_sha256: str = Field(description="sha256 of the mirror's install.sh")
    binaries: dict[Literal["amd64", "arm64", "arm"], str] = Field(
        min_length=1, description="architecture -> sha256 of the k3s binary (every node's architecture needs one)")
    images: dict[Literal["amd64", "arm64", "arm"], str] = Field(
        default_factory=dict, description="architecture -> sha256 of k3s-airgap-images-<arch>.tar.zst")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _ENDPOINT_URL.match(value):
            raise ValueError("is not an http(s) URL of the mirror folder, e.g. https://mirror.lan/k3s/v1.31.4+k3s1")
        return value

    @field_validator("installer_sha256")
    @classmethod
    def _sha(cls, value: str) -> str:
        if not SHA256.match(value):
            raise ValueError("is not a sha256 (64 lowercase hex digits)")
        return value

    @field_validator("binaries", "images")
    @classmethod
    def _shas(cls, value: dict[str, str]) -> dict[str, str]:
        for arch, digest in value.items():
            if not SHA256.match(digest):
                raise ValueError(f"{arch}: is not a sha256 (64 lowercase hex digits)")
        return value


def _taint(value: str) -> str:
    if not TAINT.match(value):
        raise ValueError("is not a taint key[=value]:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute")
    return value


class K3sCluster(Model):
    """One k3s cluster: embedded etcd (or an external datastore), servers and agents by host name."""

    name: str
    version: str
    servers: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    vip: str | None = None  # HA: announced by kube-vip (ARP) on the servers, checked in config/names.py
    vip_interface: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,15}$")  # default: default route's
    tls_san: tuple[Annotated[str, AfterValidator(_address_or_name)], ...] = ()
    cluster_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.42.0.0/16")
    service_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.43.0.0/16")
    disable: tuple[Component, ...] = ()
    node_labels: dict[str, dict[str, str]] = Field(default_factory=dict)
    node_taints: dict[str, tuple[Annotated[str, AfterValidator(_taint)], ...]] = Field(default_factory=dict)
    server_args: tuple[str, ...] = Field(
        default=(), description="extra `k3s server` flags on every server, checked against k3s's own list",
        examples=[["--kube-apiserver-arg=audit-log-maxage=30", "--etcd-expose-metrics"]])
    agent_args: tuple[str, ...] = Field(
        default=(), description="extra `k3s agent` flags on every agent", examples=[["--kubelet-arg=max-pods=150"]])
    flannel_backend: Literal["vxlan", "host-gw", "wireguard-native", "none"] | None = Field(
        default=None, description="flannel backend (k3s default vxlan; none: bring your own CNI)",
        examples=["wireguard-native"])
    flannel_iface: str | None = Field(default=None, description="interface flannel uses on every node",
                                      examples=["ens18"])
    node_flannel_iface: dict[str, str] = Field(default_factory=dict, description="per-node flannel interface",
                                               examples=[{"pippin": "eth0"}])
    datastore: Datastore | None = Field(default=None, description="external PostgreSQL/MySQL instead of embedded etcd")
    registry: Registry | None = Field(default=None, description="private registry or pull-through mirror")
    airgap: Airgap | None = Field(default=None, description="install from a local mirror, pinned by sha256")

    _cidrs = field_validator("cluster_cidr", "service_cidr", mode="before")(lambda cls, v: strict_cidr(v))

    _name = field_validator("name")(lambda cls, v: check_hostname(v))

    @field_validator("version")
    @classmethod
    def _release_tag(cls, value: str) -> str:
        if not RELEASE_TAG.match(value):
            raise ValueError("is not a k3s release tag such as v1.31.4+k3s1")
        return value

    @field_validator("vip")
    @classmethod
    def _vip(cls, value: str | None) -> str | None:
        return None if value is None else _address_or_name(value)

    @field_validator("node_labels")
    @classmethod
    def _labels(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for labels in value.values():
            for key, label in labels.items():
                if not _LABEL_KEY.match(key):
                    raise ValueError(f"label key {key!r} is not a Kubernetes label key such as homelab.io/pool")
                if not _LABEL_VALUE.match(label):
                    raise ValueError(f"label value {label!r} of {key} is not a Kubernetes label value")
        return value

    def nodes(self) -> tuple[str, ...]:
        return (*self.servers, *self.agents)


class K3s(Model):
    """k3s clusters installed over SSH; the first one hosts the services."""

    clusters: tuple[K3sCluster, ...] = ()


def token_key(cfg: "EnvironmentConfig", cluster: K3sCluster) -> str:
    """The secret config key of a cluster's token: k3sToken for the first, k3sToken-<name> after."""
    return _cluster_key(cfg, cluster, "k3sToken")


def _cluster_key(cfg: "EnvironmentConfig", cluster: K3sCluster, base: str) -> str:
    first = cfg.k3s is not None and cfg.k3s.clusters and cfg.k3s.clusters[0].name == cluster.name
    return base if first else f"{base}-{cluster.name}"


def datastore_password_key(cfg: "EnvironmentConfig", cluster: K3sCluster) -> str:
    return _cluster_key(cfg, cluster, "k3sDatastorePassword")


def registry_password_key(login: str) -> str:
    return f"k3sRegistryPassword-{login}"


def secrets(cfg: "EnvironmentConfig") -> Iterable[SecretSpec]:
    if cfg.k3s is None or not cfg.k3s.clusters:
        return
    yield SecretSpec("sshPrivateKey", "SSH private key of the operator, to install k3s over SSH")
    for cluster in cfg.k3s.clusters:
        yield SecretSpec(
            token_key(cfg, cluster),
            f"k3s token of cluster {cluster.name} (optional: generated once and kept in the state when unset)",
            required=False,
        )
        if cluster.datastore is not None:
            yield SecretSpec(datastore_password_key(cfg, cluster),
                             f"password of the {cluster.datastore.type} user of cluster {cluster.name}'s external datastore")
        for login in sorted(cluster.registry.logins if cluster.registry else {}):
            yield SecretSpec(registry_password_key(login), f"password of the registry login {login}")


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    if cfg.k3s is None:
        return
    networks = {f"environment.networks.{name}.cidr": net.cidr for name, net in cfg.environment.networks.items()}
    seen_nodes: dict[str, str] = {}
    seen_clusters: dict[str, str] = {}
    for index, cluster in enumerate(cfg.k3s.clusters):
        path = f"k3s.clusters[{index}]"
        first = seen_clusters.setdefault(cluster.name, f"{path}.name")
        if first != f"{path}.name":
            yield Problem(f"{path}.name", cluster.name, f"cluster name is already used by {first}")
        yield from _topology(path, cluster)
        # The installer runs as root on every node: only one whose sha256 is pinned for this version
        # (an air-gapped install pins its mirror's installer itself).
        missing = installers.problem(cluster.version) if cluster.airgap is None else None
        if missing:
            yield Problem(f"{path}.version", cluster.version, missing)
        for role in ("servers", "agents"):
            for position, node in enumerate(getattr(cluster, role)):
                node_path = f"{path}.{role}[{position}]"
                earlier = seen_nodes.setdefault(node, node_path)
                if earlier != node_path:
                    yield Problem(node_path, node, f"is already a k3s node at {earlier}")
        for field in ("node_labels", "node_taints"):
            for node in getattr(cluster, field):
                if node not in cluster.nodes():
                    yield Problem(f"{path}.{field}.{node}", node, "is not a server or agent of this cluster")
        yield from _options(path, cluster)
        backups = getattr(cfg, "backups", None)
        if cluster.datastore is not None and backups is not None and backups.k3s is not None:
            yield Problem(f"{path}.datastore", cluster.datastore.type,
                          "keeps the cluster's state outside etcd, so backups.k3s (etcd snapshots) has nothing to "
                          "snapshot: back the database up instead, or drop one of them")
        if cluster.vip is not None and cluster.vip not in cluster.tls_san:
            yield Problem(f"{path}.tls_san", list(cluster.tls_san),
                          f"must include the VIP {cluster.vip} so the API certificate is valid for it")
        yield from _sizes(path, cluster)
        if cluster.cluster_cidr.overlaps(cluster.service_cidr):
            yield Problem(f"{path}.service_cidr", str(cluster.service_cidr),
                          f"overlaps {path}.cluster_cidr {cluster.cluster_cidr}")
        for field in ("cluster_cidr", "service_cidr"):
            cidr = getattr(cluster, field)
            for net_path, net in networks.items():
                if cidr.overlaps(net):
                    yield Problem(f"{path}.{field}", str(cidr), f"overlaps {net_path} {net}")


def _options(path: str, cluster: K3sCluster) -> Iterable[Problem]:
    """Extra flags, flannel interfaces, datastore and registry. A flag's value, a datastore host or
    user that fails is never shown: it may hold a credential."""
    for field, role in (("server_args", "server"), ("agent_args", "agent")):
        for index, message in flags.problems(getattr(cluster, field), role):
            arg = getattr(cluster, field)[index]
            yield Problem(f"{path}.{field}[{index}]", flags.flag_name(arg) or HIDDEN, message)
    ifaces = {"flannel_iface": cluster.flannel_iface} if cluster.flannel_iface else {}
    ifaces.update({f"node_flannel_iface.{node}": iface for node, iface in cluster.node_flannel_iface.items()})
    for field, iface in ifaces.items():
        if not _IFACE.match(iface):
            yield Problem(f"{path}.{field}", iface, "is not a network interface name such as eth0 or ens18")
    for node in cluster.node_flannel_iface:
        if node not in cluster.nodes():
            yield Problem(f"{path}.node_flannel_iface.{node}", node, "is not a server or agent of this cluster")
    if cluster.datastore is not None:
        store = cluster.datastore
        try:
            _address_or_name(store.host)
        except ValueError:
            yield Problem(f"{path}.datastore.host", HIDDEN,
                          "is not a host name or IP address (credentials go in the secret k3sDatastorePassword)")
        for field in ("database", "user"):
            if not _DB_NAME.match(getattr(store, field)):
                yield Problem(f"{path}.datastore.{field}", HIDDEN,
                              "is not a plain database or user name (letters, digits, '_', '.', '-')")
    if cluster.registry is not None:
        yield from _registry(f"{path}.registry", cluster.registry)


def _registry(path: str, registry: Registry) -> Iterable[Problem]:
    for name, endpoints in registry.mirrors.items():
        if not _REGISTRY_HOST.match(name):
            yield Problem(f"{path}.mirrors.{name}", name, "is not a registry host such as docker.io, or *")
        if not endpoints:
            yield Problem(f"{path}.mirrors.{name}", [], "needs at least one endpoint URL")
        for index, url in enumerate(endpoints):
            if "@" in url:
                yield Problem(f"{path}.mirrors.{name}[{index}]", HIDDEN,
                              "holds credentials: put them in logins (password as a secret)")
            elif not _ENDPOINT_URL.match(url):
                yield Problem(f"{path}.mirrors.{name}[{index}]", url,
                              "is not an endpoint URL such as https://registry.lan:5000")
    for name, login in registry.logins.items():
        if not _LOGIN_NAME.match(name):
            yield Problem(f"{path}.logins.{name}", name,
                          "is not a login name (lowercase letters, digits, '-'): it names the secret k3sRegistryPassword-<name>")
        if not _REGISTRY_HOST.match(login.host) or login.host == "*":
            yield Problem(f"{path}.logins.{name}.host", HIDDEN if "@" in login.host else login.host,
                          "is not a registry host[:port] such as registry.lan:5000")


def host_checks(cfg: "EnvironmentConfig", hosts: Sequence[DeclaredHost]) -> Iterable[Problem]:
    """Every server and agent is a host some section declares (`hosts` comes from the registry)."""
    if cfg.k3s is None:
        return
    known = [host.name for host in hosts]
    addresses = {host.address: host for host in hosts if host.address}
    for index, cluster in enumerate(cfg.k3s.clusters):
        owner = addresses.get(cluster.vip or "")
        if owner is not None:
            yield Problem(f"k3s.clusters[{index}].vip", cluster.vip,
                          f"is the address of {owner.address_path or owner.path} ({owner.name}); "
                          "the VIP must be a free address of the network")
        for role in ("servers", "agents"):
            for position, node in enumerate(getattr(cluster, role)):
                if node not in known:
                    hint = difflib.get_close_matches(node, known, n=1)
                    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                    yield Problem(f"k3s.clusters[{index}].{role}[{position}]", node,
                                  f"is not a host declared in this environment{suggestion}")


# kube-controller-manager gives each node a /24 of the cluster CIDR (--node-cidr-mask-size-ipv4,
# default 24: kubernetes cmd/kube-controller-manager/app/options/nodeipamcontroller.go; k3s does
# not change it); a node beyond the last /24 gets no pod network.
NODE_CIDR_PREFIX = 24
# k3s gives CoreDNS the tenth address of the service CIDR when cluster-dns is unset
# (utilsnet.GetIndexedIP(serviceCIDR, 10) in k3s-io/k3s pkg/cli/server/server.go; a smaller range
# fails with "cannot configure default cluster-dns address").
CLUSTER_DNS_INDEX = 10


def _sizes(path: str, cluster: K3sCluster) -> Iterable[Problem]:
    service = cluster.service_cidr
    if service.num_addresses <= CLUSTER_DNS_INDEX:
        yield Problem(f"{path}.service_cidr", str(service),
                      f"is too small: k3s gives the cluster DNS the tenth address (network + {CLUSTER_DNS_INDEX}), "
                      "so use a /28 or larger")
    pods, nodes = cluster.cluster_cidr, len(cluster.nodes())
    room = 2 ** (NODE_CIDR_PREFIX - pods.prefixlen) if pods.prefixlen <= NODE_CIDR_PREFIX else 0
    if nodes and room < nodes:
        needed = NODE_CIDR_PREFIX - (nodes - 1).bit_length()
        yield Problem(f"{path}.cluster_cidr", str(pods),
                      f"has room for {room} node pod network{'s' if room != 1 else ''} (a /{NODE_CIDR_PREFIX} "
                      f"each) but the cluster has {nodes} nodes; use a /{needed} or larger")


def _topology(path: str, cluster: K3sCluster) -> Iterable[Problem]:
    servers = len(cluster.servers)
    if servers == 0 and cluster.agents:
        yield Problem(f"{path}.servers", [], "agents need at least one server to join")
    elif servers == 0:
        yield Problem(f"{path}.servers", [], "a cluster needs at least one server")
    elif cluster.datastore is not None:
        return  # an external datastore keeps the state: any number of servers
    elif servers > 1 and servers % 2 == 0:
        yield Problem(f"{path}.servers", list(cluster.servers),
                      f"{servers} servers cannot keep etcd quorum through a failure; use 1, 3 or 5")
