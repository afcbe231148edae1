"""Pinned chart and image versions of the MTIG stack (one place to bump them)."""

# eclipse-mosquitto has no official Helm chart: plain manifests with the official image.
# renovate: datasource=docker depName=eclipse-mosquitto
MOSQUITTO_IMAGE = "eclipse-mosquitto:2.0.20"
MOSQUITTO_UID = 1883  # the image's `mosquitto` user and group

# Telegraf runs from manifests so that its rendered config is checked offline.
# renovate: datasource=docker depName=telegraf
TELEGRAF_IMAGE = "telegraf:1.32.3"
TELEGRAF_UID = 999  # the image's `telegraf` user

INFLUXDB_CHART = "influxdb2"
# renovate: datasource=helm depName=influxdb2 registryUrl=https://helm.influxdata.com/
INFLUXDB_CHART_VERSION = "2.1.2"
INFLUXDB_REPO = "https://helm.influxdata.com/"
# renovate: datasource=docker depName=influxdb
INFLUXDB_IMAGE_TAG = "2.7.12"
INFLUXDB_IMAGE = f"influxdb:{INFLUXDB_IMAGE_TAG}"

GRAFANA_CHART = "grafana"
# renovate: datasource=helm depName=grafana registryUrl=https://grafana.github.io/helm-charts
GRAFANA_CHART_VERSION = "8.5.1"  # Grafana 11.2.0
GRAFANA_REPO = "https://grafana.github.io/helm-charts"

# Applies the InfluxDB-generated scoped tokens as Secrets (image without a shell).
# renovate: datasource=docker depName=registry.k8s.io/kubectl
KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.31.2"
