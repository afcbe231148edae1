"""Monitoring stack: Prometheus + Alertmanager, Loki, Alloy (official charts), federation."""

from components.monitoring.component import (
    TYPE,
    Monitoring,
    MonitoringArgs,
    UpstreamArgs,
    grafana_datasources,
    ip_endpoint,
    local_urls,
    upstream_urls,
)

__all__ = [
    "TYPE",
    "Monitoring",
    "MonitoringArgs",
    "UpstreamArgs",
    "grafana_datasources",
    "ip_endpoint",
    "local_urls",
    "upstream_urls",
]
