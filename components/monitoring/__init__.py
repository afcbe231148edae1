"""Monitoring stack: Prometheus + Alertmanager, Loki, Alloy (official charts), federation."""

from components.monitoring.component import (
    MqttExporterArgs,
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
    "MqttExporterArgs",
    "TYPE",
    "Monitoring",
    "MonitoringArgs",
    "UpstreamArgs",
    "grafana_datasources",
    "ip_endpoint",
    "local_urls",
    "upstream_urls",
]
