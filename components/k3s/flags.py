"""The k3s command-line flags extra server and agent arguments may use, and how they reach config.yaml.

The lists are the OPTIONS of `k3s server --help` and `k3s agent --help` as the k3s documentation
prints them for the v1.31 line the environments pin (k3s-io/docs docs/cli/server.md @0243496 and
docs/cli/agent.md @1f023c0, "K3s Server/Agent CLI Help"; a server also runs an agent, so its list
holds the agent flags too). The repeatable ones (urfave/cli StringSliceFlag in k3s-io/k3s
pkg/cli/cmds/server.go and agent.go) become YAML lists in config.yaml; "CLI arguments map to their
respective YAML key, with repeatable CLI arguments being represented as YAML lists. Boolean flags
are represented as true or false" (docs/installation/configuration.md).

A flag the program sets itself, or one that carries a credential, is refused as an extra argument:
the program's own field says it once for every node, and a credential in config.yaml would sit in
the install script, which is a plain command string in the state.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence

# Flags that take no value (booleans); every other flag takes one.
_SERVER_BOOLEANS = frozenset({
    "debug", "alsologtostderr", "tls-san-security", "flannel-ipv6-masq", "flannel-external-ip",
    "cluster-init", "cluster-reset", "etcd-expose-metrics", "etcd-disable-snapshots", "etcd-snapshot-compress",
    "etcd-s3", "etcd-s3-skip-ssl-verify", "etcd-s3-insecure", "disable-scheduler", "disable-cloud-controller",
    "disable-kube-proxy", "disable-network-policy", "disable-helm-controller", "embedded-registry",
    "supervisor-metrics", "with-node-id", "docker", "disable-default-registry-endpoint", "nonroot-devices",
    "protect-kernel-defaults", "secrets-encryption", "enable-pprof", "rootless", "prefer-bundled-bin", "selinux",
})
_SERVER_VALUES = frozenset({
    "config", "v", "vmodule", "log", "bind-address", "https-listen-port", "advertise-address", "advertise-port",
    "tls-san", "data-dir", "cluster-cidr", "service-cidr", "service-node-port-range", "cluster-dns",
    "cluster-domain", "flannel-backend", "egress-selector-mode", "servicelb-namespace", "write-kubeconfig",
    "write-kubeconfig-mode", "write-kubeconfig-group", "helm-job-image", "token", "token-file", "agent-token",
    "agent-token-file", "server", "cluster-reset-restore-path", "kube-apiserver-arg", "etcd-arg",
    "kube-controller-manager-arg", "kube-scheduler-arg", "kube-cloud-controller-manager-arg",
    "datastore-endpoint", "datastore-cafile", "datastore-certfile", "datastore-keyfile", "etcd-snapshot-name",
    "etcd-snapshot-schedule-cron", "etcd-snapshot-retention", "etcd-snapshot-dir", "etcd-s3-endpoint",
    "etcd-s3-endpoint-ca", "etcd-s3-access-key", "etcd-s3-secret-key", "etcd-s3-bucket", "etcd-s3-region",
    "etcd-s3-folder", "etcd-s3-proxy", "etcd-s3-config-secret", "etcd-s3-timeout", "default-local-storage-path",
    "disable", "node-name", "node-label", "node-taint", "image-credential-provider-bin-dir",
    "image-credential-provider-config", "container-runtime-endpoint", "default-runtime",
    "image-service-endpoint", "pause-image", "snapshotter", "private-registry", "system-default-registry",
    "node-ip", "node-external-ip", "node-internal-dns", "node-external-dns", "resolv-conf", "flannel-iface",
    "flannel-conf", "flannel-cni-conf", "vpn-auth", "vpn-auth-file", "kubelet-arg", "kube-proxy-arg",
    "lb-server-port",
})
_AGENT_BOOLEANS = frozenset({
    "debug", "alsologtostderr", "with-node-id", "selinux", "protect-kernel-defaults",
    "disable-default-registry-endpoint", "nonroot-devices", "enable-pprof", "rootless", "prefer-bundled-bin",
    "docker", "disable-apiserver-lb",
})
_AGENT_VALUES = frozenset({
    "config", "v", "vmodule", "log", "token", "token-file", "server", "data-dir", "node-name", "node-label",
    "node-taint", "image-credential-provider-bin-dir", "image-credential-provider-config", "lb-server-port",
    "container-runtime-endpoint", "default-runtime", "image-service-endpoint", "pause-image", "snapshotter",
    "private-registry", "node-ip", "bind-address", "node-external-ip", "node-internal-dns", "node-external-dns",
    "resolv-conf", "flannel-iface", "flannel-conf", "flannel-cni-conf", "kubelet-arg", "kube-proxy-arg",
    "vpn-auth", "vpn-auth-file",
})

SERVER_FLAGS: frozenset[str] = _SERVER_BOOLEANS | _SERVER_VALUES
AGENT_FLAGS: frozenset[str] = _AGENT_BOOLEANS | _AGENT_VALUES
BOOLEANS: frozenset[str] = _SERVER_BOOLEANS | _AGENT_BOOLEANS

# Repeatable flags: a YAML list in config.yaml (StringSliceFlag in pkg/cli/cmds/server.go, agent.go).
REPEATABLE: frozenset[str] = frozenset({
    "tls-san", "cluster-cidr", "service-cidr", "cluster-dns", "kube-apiserver-arg", "etcd-arg",
    "kube-controller-manager-arg", "kube-scheduler-arg", "kube-cloud-controller-manager-arg", "disable",
    "node-label", "node-taint", "node-ip", "node-external-ip", "node-internal-dns", "node-external-dns",
    "kubelet-arg", "kube-proxy-arg",
})

# Set by the program from its own fields (the field to use instead).
OWNED: Mapping[str, str] = {
    "config": "(the program writes /etc/rancher/k3s/config.yaml)",
    "data-dir": "(the scripts read the kubeconfig and state under the default data dir)",
    "token-file": "(the cluster token arrives on stdin)",
    "server": "(the first server's address, or the external datastore)",
    "cluster-init": "(the first server, with embedded etcd)",
    "node-name": "(the host's name)",
    "node-label": "node_labels",
    "node-taint": "node_taints",
    "tls-san": "tls_san",
    "cluster-cidr": "cluster_cidr",
    "service-cidr": "service_cidr",
    "disable": "disable",
    "secrets-encryption": "(always on)",
    "write-kubeconfig": "(the kubeconfig is read from /etc/rancher/k3s/k3s.yaml)",
    "write-kubeconfig-mode": "(0600)",
    "flannel-backend": "flannel_backend",
    "flannel-iface": "flannel_iface / node_flannel_iface",
    "private-registry": "registry",
    "datastore-endpoint": "datastore",
    # etcd snapshots and their S3 copy: the backups section (components/k3s/render.py snapshot_keys)
    "etcd-snapshot-schedule-cron": "backups.k3s",
    "etcd-snapshot-retention": "backups.k3s",
    "etcd-s3": "backups.k3s",
    "etcd-s3-endpoint": "backups.k3s and backups.store",
    "etcd-s3-bucket": "backups.store",
    "etcd-s3-folder": "backups.store",
    "etcd-s3-region": "backups.store",
    "etcd-s3-insecure": "backups.store",
}
# Flags whose value is a credential: never in config.yaml (it travels in a plain command string).
CREDENTIALS: frozenset[str] = frozenset({
    "token", "agent-token", "agent-token-file", "cluster-secret", "vpn-auth", "etcd-s3-access-key",
    "etcd-s3-secret-key",
})

_ARG = re.compile(r"^--([a-z0-9][a-z0-9-]*)(?:=(.*))?$", re.DOTALL)


def flag_name(arg: str) -> str | None:
    """`--kubelet-arg=max-pods=150` -> `kubelet-arg`; None when `arg` is not `--flag[=value]`."""
    match = _ARG.match(arg)
    return match.group(1) if match else None


def arg_problem(arg: str, role: str) -> str | None:
    """Why `arg` cannot be an extra argument of a k3s `role` ("server" or "agent"); None when it can.
    The message names the flag only, never its value (a value may be a credential)."""
    name = flag_name(arg)
    if name is None:
        return "is not a k3s flag of the form --flag or --flag=value"
    known = SERVER_FLAGS if role == "server" else AGENT_FLAGS
    if name not in known:
        hint = difflib.get_close_matches(name, sorted(known), n=1)
        suggestion = f"; did you mean --{hint[0]}?" if hint else ""
        return f"--{name} is not a k3s {role} flag (k3s v1.31 `k3s {role} --help`){suggestion}"
    if name in CREDENTIALS:
        return f"--{name} carries a credential: it would sit in the install script in plain text"
    if name in OWNED:
        return f"--{name} is set by the program: use {OWNED[name]}"
    has_value = _ARG.match(arg).group(2) is not None
    if name in BOOLEANS and has_value and _ARG.match(arg).group(2) not in ("true", "false"):
        return f"--{name} is a boolean flag: --{name}, --{name}=true or --{name}=false"
    if name not in BOOLEANS and not has_value:
        return f"--{name} needs a value: --{name}=VALUE"
    return None


def to_config(args: Sequence[str]) -> dict[str, object]:
    """config.yaml keys for valid extra arguments: repeatable flags as lists (in the order given),
    booleans as true/false, every other value as the string given."""
    config: dict[str, object] = {}
    for arg in args:
        match = _ARG.match(arg)
        assert match, arg
        name, value = match.group(1), match.group(2)
        if name in BOOLEANS:
            config[name] = value != "false"
        elif name in REPEATABLE:
            config.setdefault(name, [])
            config[name].append(value)  # type: ignore[union-attr]
        else:
            config[name] = value
    return config


def problems(args: Iterable[str], role: str) -> list[tuple[int, str]]:
    """(index, message) of every invalid extra argument."""
    return [(index, message) for index, arg in enumerate(args) if (message := arg_problem(arg, role))]
