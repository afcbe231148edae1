"""kube-vip in ARP mode announcing a k3s cluster's VIP: the manifest k3s auto-deploys on servers.

Why kube-vip and not keepalived: k3s brings its first server up without a load balancer in front
and signs the VIP into the API certificate from `tls-san`, so the VIP can come after the cluster,
as a DaemonSet on the servers from k3s's auto-deploy directory (kube-vip docs, "K3s":
kube-vip/kube-vip docs/usage/k3s/index.md, and docs/install_daemonset/index.md). It follows the
API itself (leader election on a Lease), needs no package or config on the hosts, and runs the
same on Rocky and Debian; keepalived would be a host package and a health script per server.

The objects below are what `kube-vip manifest daemonset --controlplane --arp --leaderElection
--inCluster --taint --address <vip>` generates at the pinned version (kube-vip/kube-vip v1.0.4
pkg/kubevip/config_generator.go: GenerateSA, GenerateRole (ClusterRole), GenerateRoleBinding,
generatePodSpec, GenerateDaemonsetManifestFromConfig; flag defaults in cmd/kube-vip.go: lease
`plndr-cp-lock`, 5/3/1 seconds). Without `vip_interface` kube-vip binds the interface of the
default route (cmd/kube-vip.go: GetDefaultGatewayInterface), the environment's network here.
"""

from __future__ import annotations

import ipaddress

import yaml

from components.k3s.render import API_PORT, MANIFESTS_DIR

# renovate: datasource=docker depName=ghcr.io/kube-vip/kube-vip
VERSION = "v1.0.4"
IMAGE = f"ghcr.io/kube-vip/kube-vip:{VERSION}"
NAMESPACE = "kube-system"
NAME = "kube-vip"
MANIFEST_FILE = "kube-vip.yaml"

# ClusterRole rules of GenerateRole at v1.0.4.
RULES = [
    {"apiGroups": [""], "resources": ["services/status"], "verbs": ["update"]},
    {"apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["list", "get", "watch", "update"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "get", "watch", "update", "patch"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["list", "get", "watch", "update", "create"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "get", "watch", "update"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
]


def _env(vip: str, interface: str | None) -> list[dict]:
    env: list[dict] = [
        {"name": "vip_arp", "value": "true"},
        {"name": "port", "value": str(API_PORT)},
        {"name": "vip_nodename", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    if interface:
        env.append({"name": "vip_interface", "value": interface})
    env += [
        {"name": "vip_subnet", "value": "32"},
        {"name": "cp_enable", "value": "true"},
        {"name": "cp_namespace", "value": NAMESPACE},
        {"name": "vip_leaderelection", "value": "true"},
        {"name": "vip_leasename", "value": "plndr-cp-lock"},
        {"name": "vip_leaseduration", "value": "5"},
        {"name": "vip_renewdeadline", "value": "3"},
        {"name": "vip_retryperiod", "value": "1"},
        {"name": "address", "value": vip},
    ]
    return env


def objects(vip: str, interface: str | None = None) -> list[dict]:
    """ServiceAccount, ClusterRole, ClusterRoleBinding and the DaemonSet on the control plane."""
    ipaddress.IPv4Address(vip)
    labels = {"app.kubernetes.io/name": "kube-vip-ds", "app.kubernetes.io/version": VERSION}
    control_plane = [{"matchExpressions": [{"key": key, "operator": "Exists"}]}
                     for key in ("node-role.kubernetes.io/master", "node-role.kubernetes.io/control-plane")]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "system:kube-vip-role"}, "rules": RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:kube-vip-binding"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:kube-vip-role"},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        {"apiVersion": "apps/v1", "kind": "DaemonSet",
         "metadata": {"name": "kube-vip-ds", "namespace": NAMESPACE, "labels": labels},
         "spec": {
             "selector": {"matchLabels": {"app.kubernetes.io/name": "kube-vip-ds"}},
             "template": {
                 "metadata": {"labels": labels},
                 "spec": {
                     "containers": [{
                         "name": NAME, "image": IMAGE, "imagePullPolicy": "IfNotPresent", "args": ["manager"],
                         "env": _env(vip, interface),
                         "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}},
                     }],
                     "hostNetwork": True,
                     "serviceAccountName": NAME,
                     "tolerations": [{"effect": "NoSchedule", "operator": "Exists"},
                                     {"effect": "NoExecute", "operator": "Exists"}],
                     "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                         "nodeSelectorTerms": control_plane}}},
                 },
             },
         }},
    ]


def manifest(vip: str, interface: str | None = None) -> str:
    """The multi-document YAML file k3s deploys from MANIFESTS_DIR."""
    return yaml.safe_dump_all(objects(vip, interface), sort_keys=True, default_flow_style=False)
