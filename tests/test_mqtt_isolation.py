"""MQTT isolation, on the files the whole-program synth writes: each user's ACL holds exactly the
rules its stack file gives it, and a real broker with those files keeps the users apart: a sensor
cannot publish to another sensor's topic, nor read `sensors/#` or `$SYS/#`; Telegraf reads but
cannot publish; the exporter reads `$SYS`."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import yaml

from tests.conftest import ENVIRONMENTS, ROOT
from tests.mosquitto_broker import synth_passwords
from tests.test_mtig_broker import Broker

ACL = "configs/mtig/mosquitto-config/acl"
CONF = "configs/mtig/mosquitto-config/mosquitto.conf"


def configured_acl(env: str) -> dict[str, set[tuple[str, str]]]:
    config = yaml.safe_load((ROOT / f"Pulumi.{env}.yaml").read_text())["config"]
    mosquitto = config["homelab:mtig"]["mosquitto"]
    rules: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for rule in mosquitto["acl"]:
        rules[rule["user"]].add((rule["access"], rule["topic"]))
    assert rules, f"{env}: no ACL rules in the stack file"
    return dict(rules)


def rendered_acl(text: str) -> dict[str, set[tuple[str, str]]]:
    rules: dict[str, set[tuple[str, str]]] = {}
    user = None
    for line in text.splitlines():
        if match := re.fullmatch(r"user (\S+)", line):
            user = match.group(1)
            assert user not in rules, f"two blocks for {user}"
            rules[user] = set()
        elif match := re.fullmatch(r"topic (read|write|readwrite) (\S+)", line):
            assert user is not None, f"a rule outside any user block: {line}"
            rules[user].add((match.group(1), match.group(2)))
        else:
            assert not line.strip() or line.startswith("#"), f"unexpected ACL line {line!r}"
    return rules


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_user_has_exactly_its_configured_rules(synth_result, env):
    assert rendered_acl(synth_result(env).artifacts[ACL]) == configured_acl(env)


@pytest.fixture(params=ENVIRONMENTS)
def broker(request, synth_result, tmp_path):
    env = request.param
    files = synth_result(env).artifacts
    # Each user's salt is the synth's RandomBytes for it (synth/mocks.py), as in the Secret it renders.
    passwords, passwd = synth_passwords(env)
    running = Broker(files[CONF], files[ACL], passwd, tmp_path)
    running.env, running.passwords, running.acl = env, passwords, configured_acl(env)
    yield running
    running.stop()


def writers(broker) -> dict[str, str]:
    """Sensor user -> a topic under its own write rule."""
    found = {user: topic.replace("#", "t") for user, rules in broker.acl.items()
             for access, topic in rules if access == "write" and user.startswith("sensor-")}
    assert len(found) >= 2, f"{broker.env}: isolation needs two sensors to test"
    return found


def reader_of(broker, topic: str) -> str:
    return next(user for user, rules in broker.acl.items() if ("read", topic) in rules)


@pytest.mark.system
def test_a_sensor_cannot_publish_to_another_sensors_topic(broker):
    own = writers(broker)
    (first, first_topic), (second, second_topic) = sorted(own.items())[:2]
    ok = broker.pub(first_topic, "1.5", first, broker.passwords[first])
    assert ok.returncode == 0 and not ok.stderr, ok
    denied = broker.pub(second_topic, "99", first, broker.passwords[first])
    assert "Not authorized" in denied.stderr, denied
    telegraf = reader_of(broker, "sensors/#")
    assert broker.read_retained("sensors/#", telegraf, broker.passwords[telegraf]) == [f"{first_topic} 1.5"]


@pytest.mark.system
def test_a_sensor_reads_neither_the_sensors_nor_sys(broker):
    own = writers(broker)
    (first, first_topic), (second, _) = sorted(own.items())[:2]
    assert broker.pub(first_topic, "3.0", first, broker.passwords[first]).returncode == 0
    assert broker.read_retained("sensors/#", second, broker.passwords[second]) == []
    assert broker.read_retained("$SYS/#", second, broker.passwords[second]) == []
    # The exporter, which may, does read $SYS: the empty answer above is the ACL, not a quiet broker.
    exporter = reader_of(broker, "$SYS/#")
    assert broker.read_retained("$SYS/#", exporter, broker.passwords[exporter])


@pytest.mark.system
def test_telegraf_cannot_publish(broker):
    telegraf = reader_of(broker, "sensors/#")
    topic = next(iter(writers(broker).values()))
    denied = broker.pub(topic, "-40", telegraf, broker.passwords[telegraf])
    assert "Not authorized" in denied.stderr, denied
