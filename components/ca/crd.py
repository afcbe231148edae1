"""Typed inputs of the one cert-manager custom resource the program registers, so the synth's
conformance check (synth/conformance.py) catches a misspelt key as it does for SDK types.

Fields from cert-manager/cert-manager pkg/apis/certmanager/v1/types_issuer.go at v1.19.6:
`IssuerSpec.IssuerConfig.CA` (json `ca`) is a `CAIssuer` with `secretName` (required),
`crlDistributionPoints`, `ocspServers`, `issuingCertificateURLs`.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

TOKEN = "kubernetes:cert-manager.io/v1:ClusterIssuer"


@pulumi.input_type
class CaIssuerArgs:
    def __init__(__self__, *, secret_name: pulumi.Input[str],
                 crl_distribution_points: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
                 ocsp_servers: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
                 issuing_certificate_urls: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None):
        pulumi.set(__self__, "secret_name", secret_name)
        for key, value in (("crl_distribution_points", crl_distribution_points), ("ocsp_servers", ocsp_servers),
                           ("issuing_certificate_urls", issuing_certificate_urls)):
            if value is not None:
                pulumi.set(__self__, key, value)

    @property
    @pulumi.getter(name="secretName")
    def secret_name(self) -> pulumi.Input[str]:
        return pulumi.get(self, "secret_name")

    @property
    @pulumi.getter(name="crlDistributionPoints")
    def crl_distribution_points(self) -> Optional[pulumi.Input[Sequence[pulumi.Input[str]]]]:
        return pulumi.get(self, "crl_distribution_points")

    @property
    @pulumi.getter(name="ocspServers")
    def ocsp_servers(self) -> Optional[pulumi.Input[Sequence[pulumi.Input[str]]]]:
        return pulumi.get(self, "ocsp_servers")

    @property
    @pulumi.getter(name="issuingCertificateURLs")
    def issuing_certificate_urls(self) -> Optional[pulumi.Input[Sequence[pulumi.Input[str]]]]:
        return pulumi.get(self, "issuing_certificate_urls")


@pulumi.input_type
class ClusterIssuerSpecArgs:
    def __init__(__self__, *, ca: pulumi.Input[CaIssuerArgs]):
        pulumi.set(__self__, "ca", ca)

    @property
    @pulumi.getter
    def ca(self) -> pulumi.Input[CaIssuerArgs]:
        return pulumi.get(self, "ca")


@pulumi.input_type
class ClusterIssuerArgs:
    def __init__(__self__, *, api_version: pulumi.Input[str], kind: pulumi.Input[str],
                 spec: pulumi.Input[ClusterIssuerSpecArgs],
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
    def spec(self) -> pulumi.Input[ClusterIssuerSpecArgs]:
        return pulumi.get(self, "spec")

    @property
    @pulumi.getter
    def metadata(self) -> Optional[pulumi.Input[k8s.meta.v1.ObjectMetaArgs]]:
        return pulumi.get(self, "metadata")


class ClusterIssuer(k8s.apiextensions.CustomResource):
    """A cert-manager ClusterIssuer (a CustomResource with the typed inputs above)."""

    def __init__(self, resource_name: str, name: str, spec: Mapping[str, Any],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(resource_name, api_version="cert-manager.io/v1", kind="ClusterIssuer",
                         metadata=k8s.meta.v1.ObjectMetaArgs(name=name), spec=spec, opts=opts)


RESOURCE_TYPES: dict[str, type] = {TOKEN: ClusterIssuer}
