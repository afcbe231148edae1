"""A real Mosquitto 2 broker started with the files the MTIG component renders.

The config, ACL and password file are taken from the ConfigMap and Secret the component
registers (under mocks); only the mount paths and the listener are moved to a temporary
directory and a free loopback port.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.mtig import MetricsStack
from tests import mtig_support as ms
from tests.mosquitto_broker import CLIENTS, HOST, Mosquitto, free_port, relocated, synth_passwords
from tests.tools import require_tool

pytestmark = pytest.mark.system


@pytest.fixture
def rec() -> ms.Recorder:
    return ms.install()


def pod_paths(tmp: Path, port: int) -> dict[str, str]:
    """The rendered mosquitto.conf's pod paths and listener, moved to ``tmp`` and ``port``."""
    return {
        "password_file /mosquitto/passwd/passwd\n": f"password_file {tmp / 'passwd'}\n",
        "acl_file /mosquitto/config/acl\n": f"acl_file {tmp / 'acl'}\n",
        "persistence_location /mosquitto/data/\n": f"persistence_location {tmp / 'data'}/\n",
        "listener 1883\n": f"listener {port} {HOST}\n",
    }


class Broker(Mosquitto):
    """The cluster broker: its ConfigMap's mosquitto.conf and ACL, its Secret's password file."""

    def __init__(self, conf: str, acl: str, passwd: str, tmp: Path):
        port = free_port()
        super().__init__(relocated(conf, pod_paths(tmp, port)), tmp, port, {"acl": acl, "passwd": passwd})


def rendered_broker_files(rec: ms.Recorder) -> tuple[str, str, str]:
    config = rec.by_name("mtig-mosquitto-config").inputs["data"]
    passwd = rec.by_name("mtig-mosquitto-passwords").revealed["stringData"]["passwd"]
    return config["mosquitto.conf"], config["acl"], passwd


@pulumi.runtime.test
def test_real_mosquitto_enforces_passwords_and_acls(rec, tmp_path):
    for tool in CLIENTS:  # before the broker starts inside apply
        require_tool(tool)
    stack = MetricsStack("mtig", ms.sample_args(), pulumi.ResourceOptions(provider=ms.k8s_provider()))
    pw = ms.PASSWORDS

    def check(_):
        broker = Broker(*rendered_broker_files(rec), tmp_path)
        try:
            anonymous = broker.pub("sensors/livingroom/temperature", "1")
            assert anonymous.returncode != 0 and "Connection error: Not authorized" in anonymous.stderr, anonymous
            wrong = broker.pub("sensors/livingroom/temperature", "1", "sensor-livingroom", "wrong-password")
            assert wrong.returncode != 0 and "Connection error: Not authorized" in wrong.stderr, wrong

            allowed = broker.pub("sensors/livingroom/temperature", "21.5", "sensor-livingroom", pw["sensor-livingroom"])
            assert allowed.returncode == 0 and not allowed.stderr, allowed
            other = broker.pub("sensors/garage/temperature", "99", "sensor-livingroom", pw["sensor-livingroom"])
            assert "Not authorized" in other.stderr, other
            garage = broker.pub("sensors/garage/temperature", "7.25", "sensor-garage", pw["sensor-garage"])
            assert garage.returncode == 0 and not garage.stderr, garage
            reader_writes = broker.pub("sensors/livingroom/temperature", "-40", "telegraf", pw["telegraf"])
            assert "Not authorized" in reader_writes.stderr, reader_writes

            # Telegraf reads exactly what the sensors were allowed to publish.
            assert broker.read_retained("sensors/#", "telegraf", pw["telegraf"]) == [
                "sensors/garage/temperature 7.25",
                "sensors/livingroom/temperature 21.5",
            ]
            # A sensor may publish but not read.
            assert broker.read_retained("sensors/#", "sensor-livingroom", pw["sensor-livingroom"]) == []
        finally:
            broker.stop()

    return ms.settled(stack).apply(check)


@pytest.mark.parametrize("env", ["mirkwood", "lothlorien"])
def test_real_mosquitto_with_the_synth_rendered_files(synth_result, env, tmp_path):
    """The same checks on the files the whole-program synth writes.

    The password file is a Secret, so the synth never writes it out; it is rebuilt here with the
    program's renderer from the same placeholder secrets the synth used (it is deterministic).
    """
    run = synth_result(env)
    files = run.artifacts
    conf_path = "configs/mtig/mosquitto-config/mosquitto.conf"
    # Both committed environments deploy MTIG: a synth without its broker config lost a layer.
    assert conf_path in files, f"{env}: the synth renders no Mosquitto config"
    passwords, passwd = synth_passwords(env)
    broker = Broker(files[conf_path], files["configs/mtig/mosquitto-config/acl"], passwd, tmp_path)
    try:
        assert "Connection error: Not authorized" in broker.pub("sensors/x", "1").stderr
        writers = sorted(u for u in passwords if u.startswith("sensor-"))
        writer = writers[0]
        topic_owner = writer.removeprefix("sensor-")
        ok = broker.pub(f"sensors/{topic_owner}/t", "1.5", writer, passwords[writer])
        assert ok.returncode == 0 and not ok.stderr, ok
        denied = broker.pub(f"sensors/not-{topic_owner}/t", "9", writer, passwords[writer])
        assert "Not authorized" in denied.stderr, denied
        assert broker.read_retained("sensors/#", "telegraf", passwords["telegraf"]) == [f"sensors/{topic_owner}/t 1.5"]
    finally:
        broker.stop()
