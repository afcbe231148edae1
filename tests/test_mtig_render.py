"""Pure MTIG renderers: password file, ACL, mosquitto.conf, Telegraf, Grafana files."""

from __future__ import annotations

import base64
import hashlib
import json
import tomllib

import pytest
import yaml

from components.mtig import render
from components.mtig.render import AclRule, Datasource, MqttUser

from tests.helpers import some


SALTS = {"a": base64.b64encode(b"salt-of-a-12").decode(), "b": base64.b64encode(b"salt-of-b-12").decode(),
         "sensor": base64.b64encode(bytes(range(12))).decode()}


def test_password_hash_is_mosquitto_2_pbkdf2_sha512_with_the_given_salt_and_iterations():
    line = render.password_file({"sensor": "s3cret"}, {"sensor": SALTS["sensor"]})
    user, hashed = line.rstrip("\n").split(":", 1)
    empty, kind, iterations, salt, digest = hashed.split("$")
    assert (user, empty, kind, iterations) == ("sensor", "", "7", "20000")
    assert base64.b64decode(salt, validate=True) == bytes(range(12))
    expected = hashlib.pbkdf2_hmac("sha512", b"s3cret", bytes(range(12)), 20000)
    assert base64.b64decode(digest, validate=True) == expected


def test_the_salt_says_nothing_about_the_password():
    """The salt is the one given (random per user), the same whatever the password: a guess can be
    checked only through the slow hash."""
    one = render.password_hash("a", "pw", b"salt-of-a-12")
    two = render.password_hash("a", "another password", b"salt-of-a-12")
    assert one.split("$")[3] == two.split("$")[3] == base64.b64encode(b"salt-of-a-12").decode()
    assert one != two


def test_password_file_is_stable_across_runs_and_differs_per_user():
    first = render.password_file({"b": "pw", "a": "pw"}, {k: SALTS[k] for k in ("a", "b")})
    assert first == render.password_file({"a": "pw", "b": "pw"}, {k: SALTS[k] for k in ("a", "b")})
    lines = first.splitlines()
    assert [line.split(":")[0] for line in lines] == ["a", "b"]
    salts = {line.split("$")[3] for line in lines}
    assert len(salts) == 2


def test_password_file_refuses_a_missing_salt_or_one_mosquitto_would_drop():
    with pytest.raises(ValueError, match="salts must be given for exactly the users"):
        render.password_file({"a": "pw", "b": "pw"}, {"a": SALTS["a"]})
    with pytest.raises(ValueError, match="must be 12 bytes"):
        render.password_hash("a", "pw", b"short")


@pytest.mark.parametrize("name", ["", "with space", "co:lon"])
def test_password_file_refuses_bad_user_names(name):
    with pytest.raises(ValueError, match="invalid MQTT user name"):
        render.password_file({name: "pw"}, {name: SALTS["a"]})


def test_password_file_refuses_an_empty_password():
    with pytest.raises(ValueError, match="empty MQTT password for a"):
        render.password_file({"a": ""}, {"a": SALTS["a"]})


def test_acl_file_lists_each_user_with_only_its_topics():
    text = render.acl_file([
        MqttUser("telegraf", (AclRule("read", "sensors/#"),)),
        MqttUser("sensor-a", (AclRule("write", "sensors/a/#"), AclRule("read", "commands/a"))),
    ])
    blocks = [b.strip().splitlines() for b in text.split("\n\n")[1:]]
    assert blocks == [
        ["user sensor-a", "topic write sensors/a/#", "topic read commands/a"],
        ["user telegraf", "topic read sensors/#"],
    ]


def test_acl_file_refuses_a_user_without_rules():
    with pytest.raises(ValueError, match="MQTT user lonely has no ACL rule"):
        render.acl_file([MqttUser("lonely", ())])


@pytest.mark.parametrize(("access", "topic"), [("publish", "a/b"), ("read", ""), ("read", "a b")])
def test_acl_rule_refuses_unknown_access_or_bad_topic(access, topic):
    with pytest.raises(ValueError):
        AclRule(access, topic)


def test_mosquitto_conf_refuses_anonymous_and_adds_tls_only_when_asked():
    plain = render.mosquitto_conf()
    lines = plain.splitlines()
    assert "allow_anonymous false" in lines
    assert "per_listener_settings false" in lines
    assert [l for l in lines if l.startswith("listener")] == ["listener 1883"]
    assert "certfile" not in plain
    tls = render.mosquitto_conf(tls=True).splitlines()
    assert [l for l in tls if l.startswith("listener")] == ["listener 1883", "listener 8883"]
    assert "certfile /mosquitto/certs/tls.crt" in tls and "keyfile /mosquitto/certs/tls.key" in tls


def test_telegraf_conf_escapes_values_as_toml_strings():
    settings = render.TelegrafSettings(
        mqtt_server="tcp://mosquitto:1883", topics=('weird/"quoted"/#', "plain/+"),
        influx_url="http://influxdb:80", org='org "x"', bucket="b", data_format="value",
    )
    doc = tomllib.loads(render.telegraf_conf(settings))
    (mqtt,) = doc["inputs"]["mqtt_consumer"]
    assert mqtt["topics"] == ['weird/"quoted"/#', "plain/+"]
    assert mqtt["data_type"] == "float"
    assert doc["outputs"]["influxdb_v2"][0]["organization"] == 'org "x"'


def test_telegraf_conf_refuses_unknown_data_format():
    with pytest.raises(ValueError, match="data_format must be one of"):
        render.telegraf_conf(render.TelegrafSettings("tcp://m:1883", ("a",), "http://i", "o", "b", data_format="xml"))


def _ds(name: str, default: bool, uid: str | None = None) -> Datasource:
    return Datasource(name=name, type="prometheus", uid=uid or name.lower(), url="http://x", is_default=default)


def test_grafana_datasources_file_has_exactly_one_default():
    doc = yaml.safe_load(render.grafana_datasources([_ds("B", False), _ds("A", True)]))
    assert doc["apiVersion"] == 1
    assert [(d["name"], d["isDefault"]) for d in doc["datasources"]] == [("A", True), ("B", False)]


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ([_ds("A", True), _ds("B", True)], "exactly one default datasource is required, got 2: ['A', 'B']"),
        ([_ds("A", False)], "exactly one default datasource is required, got 0: []"),
        ([_ds("A", True), _ds("A", False, uid="other")], "duplicate datasource name 'A'"),
        ([_ds("A", True, uid="x"), _ds("B", False, uid="x")], "duplicate datasource uid 'x'"),
    ],
)
def test_grafana_datasources_refuses_bad_lists(sources, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        render.grafana_datasources(sources)


def test_repo_dashboards_parse_and_query_the_influx_datasource():
    dashboards = render.dashboards()
    assert "mqtt-sensors.json" in dashboards
    doc = json.loads(dashboards["mqtt-sensors.json"])
    assert doc["uid"] == "mqtt-sensors"
    for panel in some(doc["panels"], "dashboard panels"):
        assert panel["datasource"] == {"type": "influxdb", "uid": "influxdb"}
        assert all("mqtt_consumer" in t["query"] for t in some(panel["targets"], f"targets of {panel.get('title')}"))


def test_dashboard_provider_reads_the_given_directory():
    doc = yaml.safe_load(render.dashboard_provider("/dash"))
    assert doc["providers"][0]["options"]["path"] == "/dash"


@pytest.mark.parametrize(("text", "seconds"), [("0s", 0), ("90m", 5400), ("720h", 2592000), ("30d", 2592000), ("2w", 1209600)])
def test_parse_duration(text, seconds):
    assert render.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "1.5h", "-1h", "1y"])
def test_parse_duration_refuses_garbage(text):
    with pytest.raises(ValueError, match="not a duration"):
        render.parse_duration(text)


@pytest.mark.system
def test_token_script_passes_shellcheck():
    import subprocess

    from tests.tools import require_tool

    shellcheck = require_tool("shellcheck")
    done = subprocess.run([shellcheck, str(render.TEMPLATES / "influx-tokens.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    assert render.token_script().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in render.token_script()
