"""k3s clusters installed over SSH on the environment's hosts (VMs of this program or onboarded).

```yaml
homelab:k3s:
  clusters:
    - name: lothlorien
      version: v1.31.4+k3s1          # a k3s release tag, pinned
      servers: [lothlorien-k3s-s1, lothlorien-k3s-s2, lothlorien-k3s-s3]   # the first initialises
      agents: [lothlorien-k3s-a1, pippin]
      vip: 10.50.0.20                # optional; must be in tls_san
      tls_san: [10.50.0.20, k3s.lothlorien.lan]
      cluster_cidr: 10.42.0.0/16
      service_cidr: 10.43.0.0/16
      disable: [traefik]
      node_labels: {pippin: {homelab.io/arch: arm64}}
      node_taints: {pippin: ["homelab.io/pi=true:NoSchedule"]}
```
The first cluster is the one the services layers deploy to.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from components.k3s.render import RELEASE_TAG, TAINT

from .base import DeclaredHost, Model, Problem, SecretSpec, check_hostname, strict_cidr

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

# Packaged components k3s can be told not to deploy (`--disable`).
Component = Literal["coredns", "local-storage", "metrics-server", "servicelb", "traefik"]
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _address_or_name(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        if _DNS_NAME.match(value) and not re.fullmatch(r"[\d.]+", value):
            return value
    raise ValueError("is not an IP address or a DNS name, e.g. 10.50.0.20 or k3s.lothlorien.lan")


def _taint(value: str) -> str:
    if not TAINT.match(value):
        raise ValueError("is not a taint key[=value]:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute")
    return value


class K3sCluster(Model):
    """One k3s cluster: embedded etcd, servers and agents by host name."""

    name: str
    version: str
    servers: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    vip: str | None = None
    tls_san: tuple[Annotated[str, AfterValidator(_address_or_name)], ...] = ()
    cluster_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.42.0.0/16")
    service_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.43.0.0/16")
    disable: tuple[Component, ...] = ()
    node_labels: dict[str, dict[str, str]] = Field(default_factory=dict)
    node_taints: dict[str, tuple[Annotated[str, AfterValidator(_taint)], ...]] = Field(default_factory=dict)

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
    first = cfg.k3s is not None and cfg.k3s.clusters and cfg.k3s.clusters[0].name == cluster.name
    return "k3sToken" if first else f"k3sToken-{cluster.name}"


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
    elif servers > 1 and servers % 2 == 0:
        yield Problem(f"{path}.servers", list(cluster.servers),
                      f"{servers} servers cannot keep etcd quorum through a failure; use 1, 3 or 5")
