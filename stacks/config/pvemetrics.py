"""Proxmox's own metrics (nodes, guests, storages) sent to the lab's InfluxDB through a Proxmox
metric server, so those graphs need no extra exporter. Needs proxmox, k3s and mtig.

```yaml
homelab:proxmox_metrics:
  port: 8086          # where ServiceLB publishes InfluxDB on the cluster's node addresses
  bucket: sensors     # default: the mtig bucket
```
Secret `proxmoxMetricsToken`: an InfluxDB token that may write that bucket only, made with
`influx auth create --org <org> --write-bucket <bucket id> --description proxmox-metrics`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import Field

from .base import Model, Problem, SecretSpec

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

TOKEN_KEY = "proxmoxMetricsToken"


class ProxmoxMetrics(Model):
    """A Proxmox metric server of type influxdb (HTTP API v2) pointed at the mtig InfluxDB."""

    port: int = Field(default=8086, ge=1, le=65535)
    bucket: str | None = None

    def bucket_of(self, cfg: "EnvironmentConfig") -> str:
        return self.bucket or cfg.mtig.influxdb.bucket


def secrets(cfg: "EnvironmentConfig") -> Iterable[SecretSpec]:
    if cfg.proxmox_metrics is not None:
        yield SecretSpec(TOKEN_KEY, "InfluxDB token Proxmox writes its metrics with (write access to one bucket)")


def checks(cfg: "EnvironmentConfig") -> Iterable[Problem]:
    if cfg.proxmox_metrics is None:
        return
    for section in ("proxmox", "k3s", "mtig"):
        if getattr(cfg, section) is None:
            yield Problem("proxmox_metrics", "set", f"sends Proxmox metrics to the mtig InfluxDB, but {section} is not configured")
