"""The `mtig` config section: every check gives its exact line; valid variants load."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.config import loader
from stacks.config.model import needed_secrets
from synth.engine import synth_config


def validate(mutate=None, drop_secrets: tuple[str, ...] = ()) -> Any:
    entries, secret_keys, _ = synth_config("mirkwood")
    entries = dict(entries)
    mtig = copy.deepcopy(entries["homelab:mtig"])
    if mutate:
        mutate(mtig)
    entries["homelab:mtig"] = mtig
    users = mtig.get("mosquitto", {}).get("users", [])
    for user in users:  # secrets for users a test adds
        entries.setdefault(f"homelab:mqttPassword-{user}", f"synth-placeholder-{user}")
        secret_keys = secret_keys | {f"homelab:mqttPassword-{user}"}
    for key in drop_secrets:
        entries.pop(f"homelab:{key}")
    return loader.validate(entries, stack="mirkwood", secret_keys=secret_keys)


def problems(mutate=None, **kwargs) -> list[str]:
    with pytest.raises(loader.ConfigError) as caught:
        validate(mutate, **kwargs)
    return caught.value.lines


def test_committed_mirkwood_config_needs_the_mtig_secrets():
    cfg = validate()
    keys = {spec.key for spec in needed_secrets(cfg)}
    assert {
        "mqttPassword-telegraf", "mqttPassword-sensor-livingroom", "mqttPassword-sensor-garage",
        "influxdbAdminPassword", "influxdbOperatorToken", "grafanaAdminPassword",
    } <= keys
    assert cfg.mtig.influxdb.retention == "7d"


@pytest.mark.parametrize("retention", ["0s", "1h", "60m", "3600s", "30d"])
def test_retention_of_an_hour_or_more_or_forever_is_valid(retention):
    cfg = validate(lambda m: m["influxdb"].update(retention=retention))
    assert cfg.mtig.influxdb.retention == retention


@pytest.mark.parametrize("retention", ["59m", "1s", "3599s"])
def test_retention_under_an_hour_is_refused(retention):
    assert problems(lambda m: m["influxdb"].update(retention=retention)) == [
        "mtig.influxdb.retention: retention under one hour; use at least 1h, or 0s to keep data forever "
        f"(got {retention!r})"
    ]


def test_retention_must_be_a_duration():
    assert problems(lambda m: m["influxdb"].update(retention="a month")) == [
        "mtig.influxdb.retention: not a duration: 'a month' (use a number and one of s, m, h, d, w, e.g. 30d) "
        "(got 'a month')"
    ]


def test_missing_mqtt_password_names_the_fix():
    assert problems(drop_secrets=("mqttPassword-sensor-garage",)) == [
        "homelab:mqttPassword-sensor-garage: required secret is not set (MQTT password of the Mosquitto user "
        "sensor-garage); set it with: pulumi config set --secret mqttPassword-sensor-garage <value>"
    ]


def test_user_without_acl_and_acl_for_unknown_user():
    def mutate(m):
        m["mosquitto"]["users"].append("sensor-attic")
        m["mosquitto"]["acl"].append({"user": "sensor-cellar", "topic": "sensors/cellar/#", "access": "write"})

    assert problems(mutate) == [
        "mtig.mosquitto.users[4]: MQTT user has no entry in mtig.mosquitto.acl (got 'sensor-attic')",
        "mtig.mosquitto.acl[4].user: ACL names an unknown MQTT user "
        "(users: telegraf, sensor-livingroom, sensor-garage, mqtt-exporter, sensor-attic) (got 'sensor-cellar')",
    ]


def test_telegraf_user_must_exist_and_read():
    assert problems(lambda m: m["telegraf"].update(mqtt_user="collector")) == [
        "mtig.telegraf.mqtt_user: is not one of mtig.mosquitto.users (got 'collector')"
    ]
    assert problems(lambda m: m["telegraf"].update(mqtt_user="sensor-garage")) == [
        "mtig.telegraf.mqtt_user: has no read access in mtig.mosquitto.acl (got 'sensor-garage')"
    ]


def test_two_default_datasources_are_refused_one_is_fine():
    prometheus = {"name": "Prometheus", "type": "prometheus", "uid": "prometheus", "url": "http://p:9090"}
    assert problems(lambda m: m["grafana"].update(datasources=[{**prometheus, "is_default": True}])) == [
        "mtig.grafana.datasources: more than one default Grafana datasource (got ['InfluxDB', 'Prometheus'])"
    ]
    cfg = validate(lambda m: m["grafana"].update(influxdb_default=False, datasources=[{**prometheus, "is_default": True}]))
    assert cfg.mtig.grafana.datasources[0].is_default
    assert problems(lambda m: m["grafana"].update(influxdb_default=False)) == [
        "mtig.grafana.influxdb_default: no default Grafana datasource: exactly one is needed (got False)"
    ]


def test_duplicate_datasource_names_and_uids():
    clash = {"name": "InfluxDB", "type": "influxdb", "uid": "influxdb", "url": "http://other:8086"}
    assert problems(lambda m: m["grafana"].update(datasources=[clash])) == [
        "mtig.grafana.datasources[0].name: duplicate Grafana datasource name (got 'InfluxDB')",
        "mtig.grafana.datasources[0].uid: duplicate Grafana datasource uid (got 'influxdb')",
    ]


def test_exposing_mqtt_needs_tls_and_node_port_needs_nodeport():
    assert problems(lambda m: m["mosquitto"].update(expose="nodeport", node_port=30883)) == [
        "mtig.mosquitto.expose: MQTT outside the cluster needs TLS: set mtig.mosquitto.tls_secret_name "
        "(got 'nodeport')"
    ]
    assert problems(lambda m: m["mosquitto"].update(node_port=30883)) == [
        "mtig.mosquitto.node_port: is only used with expose: nodeport (got 30883)"
    ]
    cfg = validate(lambda m: m["mosquitto"].update(expose="loadbalancer", tls_secret_name="mosquitto-tls"))
    assert cfg.mtig.mosquitto.tls_secret_name == "mosquitto-tls"


def test_bad_user_name_and_sizes_are_field_errors():
    lines = problems(lambda m: (m["mosquitto"].update(users=["Bad User"], acl=[]), m["influxdb"].update(storage="lots")))
    assert any(line.startswith("mtig.mosquitto.users: ") and "'Bad User' is not a valid MQTT user name" in line
               for line in lines), lines
    assert any(line.startswith("mtig.influxdb.storage: ") and "is not a volume size" in line for line in lines), lines


@pytest.mark.parametrize("password, telegraf, expected", [
    ("short7!", "fine-password", ["homelab:influxdbAdminPassword: is not of the form a password of 8 to 72 "
                                  "characters (InfluxDB's limits) (value not shown)"]),
    ("x" * 73, "fine-password", ["homelab:influxdbAdminPassword: is not of the form a password of 8 to 72 "
                                 "characters (InfluxDB's limits) (value not shown)"]),
    ("long-enough", 'has"quote', ["homelab:mqttPassword-telegraf: is not of the form a password without quotes, "
                                  "backslashes or control characters (Telegraf's TOML) (value not shown)"]),
    ("long-enough", "back\\slash", ["homelab:mqttPassword-telegraf: is not of the form a password without quotes, "
                                    "backslashes or control characters (Telegraf's TOML) (value not shown)"]),
])
def test_secret_values_the_services_would_refuse_are_caught_without_showing_them(password, telegraf, expected):
    entries, secret_keys, _ = synth_config("mirkwood")
    entries = {**entries, "homelab:influxdbAdminPassword": password, "homelab:mqttPassword-telegraf": telegraf,
               # other users' passwords may hold anything: only Telegraf's goes through its TOML
               "homelab:mqttPassword-sensor-garage": 'q"uote\\d'}
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys=secret_keys)
    assert caught.value.lines == expected
    assert password not in str(caught.value) and telegraf not in str(caught.value)


def test_good_secret_values_pass():
    entries, secret_keys, _ = synth_config("mirkwood")
    entries = {**entries, "homelab:influxdbAdminPassword": "8chars!!", "homelab:mqttPassword-telegraf": "p@ss w0rd$"}
    loader.validate(entries, stack="mirkwood", secret_keys=secret_keys)
