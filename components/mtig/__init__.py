"""MTIG metrics stack on k3s: Mosquitto -> Telegraf -> InfluxDB 2 -> Grafana."""

from components.mtig.grafana import Grafana, GrafanaArgs, SecretRef
from components.mtig.influxdb import InfluxDB, InfluxDBArgs
from components.mtig.mosquitto import Mosquitto, MosquittoArgs
from components.mtig.render import AclRule, Datasource, MqttUser
from components.mtig.stack import MetricsStack, MetricsStackArgs
from components.mtig.telegraf import Telegraf, TelegrafArgs

__all__ = [
    "AclRule",
    "Datasource",
    "Grafana",
    "GrafanaArgs",
    "InfluxDB",
    "InfluxDBArgs",
    "MetricsStack",
    "MetricsStackArgs",
    "Mosquitto",
    "MosquittoArgs",
    "MqttUser",
    "SecretRef",
    "Telegraf",
    "TelegrafArgs",
]
