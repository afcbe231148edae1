"""The lab's internal CA: a root made by the program, and cert-manager issuing from it on k3s.

Why cert-manager with a CA issuer (and not step-ca as the seed did): the services that need
certificates run on k3s and publish through Ingresses; cert-manager's ingress-shim issues and
renews a certificate for every Ingress annotated `cert-manager.io/cluster-issuer` (cert-manager
docs, "Securing Ingress Resources"; the key is `IngressClusterIssuerNameAnnotationKey` in
cert-manager/cert-manager pkg/apis/certmanager/v1/types.go) with nothing outside the cluster to
run or back up. step-ca would be one more daemon on a host with its own ACME flow to every client.

The root key and certificate are made by Pulumi (pulumi-tls): the root is a plain value before any
cluster exists, so hosts and browsers can be given it as a stack output (`ca.root_pem`), and the
same root can sign certificates outside Kubernetes. The key stays a secret: it reaches only the
Secret the CA ClusterIssuer reads, in cert-manager's own namespace (a ClusterIssuer reads its
Secrets from the "cluster resource namespace", by default the namespace cert-manager runs in:
chart values.yaml `clusterResourceNamespace: ""`, controller flag --cluster-resource-namespace).

Chart: jetstack/cert-manager v1.19.6 from https://charts.jetstack.io (the only supported source,
cert-manager docs "Installing with Helm"); `crds.enabled: true` installs the CRDs with the release
(values.yaml at v1.19.6: `crds.enabled` default false, `installCRDs` deprecated).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components.ca.crd import ClusterIssuer

TYPE = "homelab:ca:InternalCa"
CHART = "cert-manager"
CHART_REPO = "https://charts.jetstack.io/"  # as Renovate normalises it (tests/test_renovate.py)
# renovate: datasource=helm depName=cert-manager registryUrl=https://charts.jetstack.io/
CHART_VERSION = "v1.19.6"
CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
ROOT_SECRET = "homelab-ca"


@dataclass(frozen=True)
class InternalCaArgs:
    common_name: str
    organization: str
    issuer_name: str = "homelab-ca"
    namespace: str = "cert-manager"
    validity_days: int = 3650
    protect: bool = False  # production: a new root would have to be trusted again everywhere
    cert_manager: bool = True  # False: the root only (a lab without k3s signs host certificates with it)


def chart_values() -> dict:
    """Helm values of the cert-manager chart (keys of its values.yaml at CHART_VERSION)."""
    return {
        "crds": {"enabled": True, "keep": True},
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "prometheus": {"enabled": True, "servicemonitor": {"enabled": False}},
    }


class InternalCa(pulumi.ComponentResource):
    root_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]  # secret: signs host certificates (ServerCertificate)
    issuer_name: str | None
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: InternalCaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        key = tls.PrivateKey(f"{name}-root-key", algorithm="ECDSA", ecdsa_curve="P256", opts=keep)
        root = tls.SelfSignedCert(
            f"{name}-root",
            private_key_pem=pulumi.Output.secret(key.private_key_pem),
            is_ca_certificate=True,
            validity_period_hours=args.validity_days * 24,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            subject=tls.SelfSignedCertSubjectArgs(common_name=args.common_name, organization=args.organization),
            opts=keep,
        )
        self.root_pem = root.cert_pem
        self.key_pem = pulumi.Output.secret(key.private_key_pem)
        self.issuer_name = args.issuer_name if args.cert_manager else None
        self.ready = []
        if args.cert_manager:
            self._cert_manager(name, args)
        self.register_outputs({"root_pem": self.root_pem, "issuer_name": self.issuer_name})

    def _cert_manager(self, name: str, args: InternalCaArgs) -> None:
        release = k8s.helm.v3.Release(
            f"{name}-cert-manager",
            name=CHART,
            chart=CHART,
            version=CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
            namespace=args.namespace,
            create_namespace=True,
            values=chart_values(),
            atomic=True,
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self),
        )
        secret = k8s.core.v1.Secret(
            f"{name}-root-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ROOT_SECRET, namespace=args.namespace),
            type="kubernetes.io/tls",
            string_data={"tls.crt": self.root_pem, "tls.key": self.key_pem},
            # The namespace is the release's (create_namespace): it exists once the release does.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release]),
        )
        issuer = ClusterIssuer(
            f"{name}-issuer",
            args.issuer_name,
            {"ca": {"secretName": ROOT_SECRET}},
            # The ClusterIssuer CRD comes with the release (crds.enabled).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release, secret]),
        )
        self.ready = [release, secret, issuer]


@dataclass(frozen=True)
class ServerCertificateArgs:
    ca_key_pem: pulumi.Input[str]  # secret
    ca_cert_pem: pulumi.Input[str]
    common_name: str
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    validity_days: int = 397


class ServerCertificate(pulumi.ComponentResource):
    """A TLS server certificate signed by the lab CA, for a service on a host (not on k3s)."""

    key_pem: pulumi.Output[str]  # secret
    cert_pem: pulumi.Output[str]

    def __init__(self, name: str, args: ServerCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("homelab:ca:ServerCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        self.key_pem = pulumi.Output.secret(key.private_key_pem)
        request = tls.CertRequest(
            f"{name}-request", private_key_pem=self.key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=args.common_name),
            dns_names=list(args.dns_names), ip_addresses=list(args.ip_addresses), opts=child)
        cert = tls.LocallySignedCert(
            f"{name}-cert", cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=pulumi.Output.secret(args.ca_key_pem), ca_cert_pem=args.ca_cert_pem,
            validity_period_hours=args.validity_days * 24, early_renewal_hours=30 * 24,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"], opts=child)
        self.cert_pem = cert.cert_pem
        self.register_outputs({"cert_pem": self.cert_pem})
