"""The lab's internal certificate authority and cert-manager on k3s."""

from .component import (CLUSTER_ISSUER_ANNOTATION, InternalCa, InternalCaArgs, ServerCertificate,
                        ServerCertificateArgs)

__all__ = ["CLUSTER_ISSUER_ANNOTATION", "InternalCa", "InternalCaArgs", "ServerCertificate", "ServerCertificateArgs"]
