"""Prometheus and Loki published outside the cluster: through k3s's Traefik, over TLS, behind a login.

Facts this module depends on (read at the versions the lab runs):

- k3s v1.31 packages Traefik chart 27.0.2 / Traefik v2.11 (k3s-io/k3s#10775, #10939). That chart's
  CRDs (traefik/traefik-helm-chart v27.0.2 traefik/crds/traefik.io_middlewares.yaml) serve
  Middleware as group ``traefik.io`` version ``v1alpha1`` (``traefik.containo.us`` is the
  deprecated copy); ``spec.basicAuth`` has ``secret``, ``realm``, ``removeHeader``, ``headerField``.
- basicAuth reads the Secret's ``users`` key, htpasswd lines ``user:hash``. Traefik checks them
  with abbot/go-http-auth (basic.go ``compareFuncs``): a hash starting ``$2a$``, ``$2b$``,
  ``$2x$`` or ``$2y$`` is bcrypt. pulumi-random's ``RandomPassword.bcrypt_hash`` is
  ``bcrypt.GenerateFromPassword(result, DefaultCost)`` (hashicorp/terraform-provider-random
  internal/provider/resource_password.go ``generateHash``), which Go writes as ``$2a$10$``: no
  hashing library is needed here and the password never leaves the provider in clear.
- Source addresses: k3s's ServiceLB (k3s-io/klipper-lb ``entry``) DNATs to Traefik's Service and
  MASQUERADEs, so Traefik sees the svclb pod, not the client; an ipAllowList middleware there
  would refuse everyone or no one. Who may connect is therefore decided by the login (and TLS);
  ``allowed_sources`` only says that someone outside needs the services at all.
- Routing: the consumer reaches us through a Service of its own cluster (its name, not ours, is
  in the Host header), so the Ingresses match on paths only: Prometheus' query API and
  ``/federate``, Loki's ``/loki/api``. The certificate is issued (cert-manager ingress-shim,
  ``cert-manager.io/cluster-issuer``) for ``tls_name(kind, environment)``; a client selects it
  with SNI (Prometheus ``tls_config.server_name``, Grafana ``jsonData.serverName``) and checks it
  against this environment's CA (stack output ``ca.root_pem``). Traefik v2 answers a request whose
  Host differs from its SNI unless the two resolve to different TLS options (traefik/traefik v2
  pkg/middlewares/snicheck/snicheck.go: 421 only then); every router here uses the default options.
  Grafana reads ``jsonData.serverName``, ``jsonData.tlsAuthWithCACert`` and the decrypted
  ``secureJsonData.tlsCACert`` (grafana/grafana pkg/services/datasources/service/datasource.go,
  the datasource's TLS options).
- Ingress annotations of Traefik's Kubernetes Ingress provider (doc.traefik.io/traefik/v2.11/
  routing/providers/kubernetes-ingress/#annotations): ``router.entrypoints``, ``router.tls``,
  ``router.middlewares`` (``<namespace>-<name>@kubernetescrd``). ``websecure`` is the chart's
  HTTPS entrypoint (chart values.yaml ``ports.websecure``).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

TRAEFIK_API = "traefik.io/v1alpha1"
MIDDLEWARE_TOKEN = f"kubernetes:{TRAEFIK_API}:Middleware"
CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
ENTRYPOINT = "websecure"
#: The one user of each published service (the environment that reads it).
USERNAME = "homelab"
#: bcrypt prefixes go-http-auth accepts (abbot/go-http-auth basic.go compareFuncs).
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2x$", "$2y$")
#: Names in the certificates of the published services; they need not resolve (clients use SNI).
TLS_ZONE = "monitoring.internal"
KINDS = ("prometheus", "loki")
#: Paths each service answers outside the cluster: Prometheus' query API (Grafana) and /federate;
#: Loki's API (queries and pushes). Nothing else (no UI, no /-/ endpoints).
ROUTES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "prometheus": (("/api/v1", "Prefix"), ("/federate", "Exact")),
    "loki": (("/loki/api", "Prefix"),),
}


def tls_name(kind: str, environment: str) -> str:
    """The DNS name in the certificate of an environment's published ``kind``."""
    return f"{kind}-{environment}.{TLS_ZONE}"


def auth_secret(kind: str) -> str:
    return f"{kind}-basic-auth"


def tls_secret(kind: str) -> str:
    return f"{kind}-external-tls"


def middleware_name(kind: str) -> str:
    return f"{kind}-login"


def users_file(user: str, bcrypt_hash: str) -> str:
    """The ``users`` value of a basicAuth Secret: one htpasswd line with a bcrypt hash."""
    if not bcrypt_hash.startswith(BCRYPT_PREFIXES) or len(bcrypt_hash) != 60:
        raise ValueError("basicAuth needs a 60-character bcrypt hash ($2a$/$2b$/$2y$)")
    return f"{user}:{bcrypt_hash}\n"


def middleware_spec(kind: str) -> dict:
    # removeHeader: the backends never see the credentials.
    return {"basicAuth": {"secret": auth_secret(kind), "realm": kind, "removeHeader": True}}


def ingress(kind: str, namespace: str, environment: str, service: str, port: int,
            ingress_class: str, issuer: str, labels: Mapping[str, str]) -> dict:
    """The Ingress (metadata and spec) that publishes ``service:port`` through Traefik."""
    backend = {"service": {"name": service, "port": {"number": port}}}
    return {
        "metadata": {
            "name": f"{kind}-external",
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {
                CLUSTER_ISSUER_ANNOTATION: issuer,
                "traefik.ingress.kubernetes.io/router.entrypoints": ENTRYPOINT,
                "traefik.ingress.kubernetes.io/router.tls": "true",
                "traefik.ingress.kubernetes.io/router.middlewares": f"{namespace}-{middleware_name(kind)}@kubernetescrd",
            },
        },
        "spec": {
            "ingressClassName": ingress_class,
            "tls": [{"hosts": [tls_name(kind, environment)], "secretName": tls_secret(kind)}],
            "rules": [{"http": {"paths": [
                {"path": path, "pathType": path_type, "backend": backend} for path, path_type in ROUTES[kind]
            ]}}],
        },
    }


# --- typed inputs of the Traefik Middleware, so the synth's conformance check catches a misspelt key.

@pulumi.input_type
class BasicAuthArgs:
    def __init__(__self__, *, secret: pulumi.Input[str], realm: Optional[pulumi.Input[str]] = None,
                 remove_header: Optional[pulumi.Input[bool]] = None,
                 header_field: Optional[pulumi.Input[str]] = None):
        pulumi.set(__self__, "secret", secret)
        for key, value in (("realm", realm), ("remove_header", remove_header), ("header_field", header_field)):
            if value is not None:
                pulumi.set(__self__, key, value)

    @property
    @pulumi.getter
    def secret(self) -> pulumi.Input[str]:
        return pulumi.get(self, "secret")

    @property
    @pulumi.getter
    def realm(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "realm")

    @property
    @pulumi.getter(name="removeHeader")
    def remove_header(self) -> Optional[pulumi.Input[bool]]:
        return pulumi.get(self, "remove_header")

    @property
    @pulumi.getter(name="headerField")
    def header_field(self) -> Optional[pulumi.Input[str]]:
        return pulumi.get(self, "header_field")


@pulumi.input_type
class MiddlewareSpecArgs:
    def __init__(__self__, *, basic_auth: pulumi.Input[BasicAuthArgs]):
        pulumi.set(__self__, "basic_auth", basic_auth)

    @property
    @pulumi.getter(name="basicAuth")
    def basic_auth(self) -> pulumi.Input[BasicAuthArgs]:
        return pulumi.get(self, "basic_auth")


@pulumi.input_type
class MiddlewareArgs:
    def __init__(__self__, *, api_version: pulumi.Input[str], kind: pulumi.Input[str],
                 spec: pulumi.Input[MiddlewareSpecArgs],
                 metadata: Optional[pulumi.Input[k8s.meta.v1.ObjectMetaArgs]] = None):
        pulumi.set(__self__, "api_version", api_version)
        pulumi.set(__self__, "kind", kind)
        pulumi.set(__self__, "spec", spec)
        if metadata is not None:
            pulumi.set(__self__, "metadata", metadata)

    @property
    @pulumi.getter(name="apiVersion")
    def api_version(self) -> pulumi.Input[str]:
        return pulumi.get(self, "api_version")

    @property
    @pulumi.getter
    def kind(self) -> pulumi.Input[str]:
        return pulumi.get(self, "kind")

    @property
    @pulumi.getter
    def spec(self) -> pulumi.Input[MiddlewareSpecArgs]:
        return pulumi.get(self, "spec")

    @property
    @pulumi.getter
    def metadata(self) -> Optional[pulumi.Input[k8s.meta.v1.ObjectMetaArgs]]:
        return pulumi.get(self, "metadata")


class Middleware(k8s.apiextensions.CustomResource):
    """A Traefik Middleware (traefik.io/v1alpha1)."""

    def __init__(self, resource_name: str, metadata: Mapping[str, Any], spec: Mapping[str, Any],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(resource_name, api_version=TRAEFIK_API, kind="Middleware",
                         metadata=metadata, spec=spec, opts=opts)


RESOURCE_TYPES: dict[str, type] = {MIDDLEWARE_TOKEN: Middleware}
