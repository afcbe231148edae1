"""Pinned upstream charts and images of the monitoring stack (official repositories only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    name: str
    version: str
    repo: str


PROMETHEUS_COMMUNITY = "https://prometheus-community.github.io/helm-charts"
GRAFANA = "https://grafana.github.io/helm-charts"

# prometheus-community/prometheus 27.19.0: Prometheus v3.4.1 with the alertmanager,
# kube-state-metrics and prometheus-node-exporter subcharts.
# renovate: datasource=helm depName=prometheus registryUrl=https://prometheus-community.github.io/helm-charts
PROMETHEUS = Chart("prometheus", "27.19.0", PROMETHEUS_COMMUNITY)
# grafana/loki 6.29.0: Loki 3.4.2 (single binary mode).
# renovate: datasource=helm depName=loki registryUrl=https://grafana.github.io/helm-charts
LOKI = Chart("loki", "6.29.0", GRAFANA)
# grafana/alloy 1.1.2: Alloy v1.9.2.
# renovate: datasource=helm depName=alloy registryUrl=https://grafana.github.io/helm-charts
ALLOY = Chart("alloy", "1.1.2", GRAFANA)

# prometheus-pve-exporter (github.com/prometheus-pve/prometheus-pve-exporter).
# renovate: datasource=docker depName=prompve/prometheus-pve-exporter
PVE_EXPORTER_IMAGE = "prompve/prometheus-pve-exporter:3.5.5"
PVE_EXPORTER_PORT = 9221

# Fixed Helm release names: the Services the charts create are named after them, and the
# rendered scrape targets and datasource URLs refer to those names.
PROMETHEUS_RELEASE = "prometheus"
LOKI_RELEASE = "loki"
ALLOY_RELEASE = "alloy"

PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
LOKI_PORT = 3100

# sapcc/mosquitto-exporter: broker $SYS metrics for Prometheus.
# renovate: datasource=docker depName=sapcc/mosquitto-exporter
MQTT_EXPORTER_IMAGE = "sapcc/mosquitto-exporter:0.8.0"
MQTT_EXPORTER_PORT = 9234
