"""The lab's internal certificate authority (components/ca): a root the program makes, and
cert-manager on the services' k3s cluster issuing from it (Grafana's ingress over HTTPS).

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
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from .base import Model, Problem

if TYPE_CHECKING:
    from .model import EnvironmentConfig


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


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    if cfg.ca is not None and (cfg.k3s is None or not cfg.k3s.clusters):
        yield Problem("ca", "ca", "cert-manager issues from the CA on the k3s cluster; this environment has none")
