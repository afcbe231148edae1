#!/usr/bin/env bash
# The credential the Pulumi Kubernetes provider uses: a ServiceAccount token that does not expire.
# k3s renews the admin client certificate of /etc/rancher/k3s/k3s.yaml on disk (about yearly); a copy
# kept in Pulumi's state would then fail with x509 errors. A token Secret of type
# kubernetes.io/service-account-token lasts as long as the Secret, bound to cluster-admin.
# Prints k3s.yaml (the cluster's CA and names) and, as a second YAML document, the token.
# Idempotent: `kubectl apply` of the same objects, the same token read back.
set -euo pipefail

kubectl=(k3s kubectl --kubeconfig /etc/rancher/k3s/k3s.yaml)
"${kubectl[@]}" apply -f - >/dev/null <<'MANIFEST'
apiVersion: v1
kind: ServiceAccount
metadata:
  name: homelab-pulumi
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: homelab-pulumi
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - kind: ServiceAccount
    name: homelab-pulumi
    namespace: kube-system
---
apiVersion: v1
kind: Secret
metadata:
  name: homelab-pulumi-token
  namespace: kube-system
  annotations:
    kubernetes.io/service-account.name: homelab-pulumi
type: kubernetes.io/service-account-token
MANIFEST

token=""
for _ in $(seq 1 30); do
  token=$("${kubectl[@]}" -n kube-system get secret homelab-pulumi-token -o 'jsonpath={.data.token}' 2>/dev/null || true)
  if [ -n "$token" ]; then
    break
  fi
  sleep 2
done
if [ -z "$token" ]; then
  echo "the token controller filled no token into kube-system/homelab-pulumi-token" >&2
  exit 1
fi
cat /etc/rancher/k3s/k3s.yaml
printf -- '---\ntoken: %s\n' "$(printf '%s' "$token" | base64 -d)"
