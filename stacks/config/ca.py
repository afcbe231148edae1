"""The lab's internal certificate authority (components/ca): a root the program makes, and
cert-manager on the services' k3s cluster issuing from it (Grafana's ingress over HTTPS). Without
a cluster the root still signs host certificates (the edge MQTT broker's).

```yaml
homelab:ca:
  organization: homelab               # subject O of the root
  common_name: lothlorien lab root CA # default: "<environment> lab root CA"
  validity_days: 3650
  issuer_name: homelab-ca             # the ClusterIssuer
```
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from .base import Model


class CertificateAuthority(Model):
    organization: str = Field(default="homelab", min_length=1, max_length=64)
    common_name: str | None = Field(default=None, min_length=1, max_length=64)
    validity_days: int = Field(default=3650, ge=30, le=7300)
    issuer_name: str = "homelab-ca"

    @field_validator("issuer_name")
    @classmethod
    def _k8s_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", value):
            raise ValueError("is not a Kubernetes object name (lowercase letters, digits and '-')")
        return value
