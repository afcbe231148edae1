"""A real Mosquitto 2 broker started with the files the MTIG component renders.

The config, ACL and password file are taken from the ConfigMap and Secret the component
registers (under mocks); only the mount paths and the listener are moved to a temporary
directory and a free loopback port.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from pathlib import Path

import pulumi
import pytest

from components.mtig import MetricsStack
from tests import mtig_support as ms
from tests.tools import require_tool

pytestmark = pytest.mark.system
HOST = "127.0.0.1"
TIMEOUT = 10  # seconds for any client command


@pytest.fixture
def rec() -> ms.Recorder:
    return ms.install()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def local_config(conf: str, tmp: Path, port: int) -> str:
    """The rendered mosquitto.conf with its pod paths and listener moved to ``tmp`` and ``port``."""
    moved = {
        "password_file /mosquitto/passwd/passwd\n": f"password_file {tmp / 'passwd'}\n",
        "acl_file /mosquitto/config/acl\n": f"acl_file {tmp / 'acl'}\n",
        "persistence_location /mosquitto/data/\n": f"persistence_location {tmp / 'data'}/\n",
        "listener 1883\n": f"listener {port} {HOST}\n",
    }
    for old, new in moved.items():
        assert conf.count(old) == 1, f"rendered config lacks {old!r}"
        conf = conf.replace(old, new)
    if os.geteuid() == 0:
        # Started as root, mosquitto drops to the `mosquitto` user, which cannot read the
        # test's private temporary directory; in the pod it runs as that user already.
        conf += "user root\n"
    return conf


class Broker:
    def __init__(self, conf: str, acl: str, passwd: str, tmp: Path):
        self.port = free_port()
        (tmp / "data").mkdir()
        (tmp / "acl").write_text(acl)
        (tmp / "passwd").write_text(passwd)
        (tmp / "passwd").chmod(0o600)
        (tmp / "mosquitto.conf").write_text(local_config(conf, tmp, self.port))
        self.log = tmp / "broker.log"
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(tmp / "mosquitto.conf")],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"mosquitto exited: {self.log.read_text()}"
            try:
                socket.create_connection((HOST, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"mosquitto did not listen on {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def pub(self, topic: str, message: str, user: str | None = None, password: str | None = None):
        cmd = ["mosquitto_pub", "-h", HOST, "-p", str(self.port), "-V", "mqttv5", "-q", "1", "-r",
               "-t", topic, "-m", message]
        if user is not None:
            cmd += ["-u", user, "-P", password or ""]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)

    def read_retained(self, topic: str, user: str, password: str) -> list[str]:
        """Retained messages ``user`` can read under ``topic`` (waits 2 s for more)."""
        cmd = ["mosquitto_sub", "-h", HOST, "-p", str(self.port), "-V", "mqttv5", "-u", user, "-P", password,
               "-t", topic, "-v", "-W", "2"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        # 27: timed out waiting for more messages, the expected end.
        assert done.returncode == 27 and "Not authorized" not in done.stderr, done
        return sorted(done.stdout.splitlines())


def rendered_broker_files(rec: ms.Recorder) -> tuple[str, str, str]:
    config = rec.by_name("mtig-mosquitto-config").inputs["data"]
    passwd = rec.by_name("mtig-mosquitto-passwords").revealed["stringData"]["passwd"]
    return config["mosquitto.conf"], config["acl"], passwd


@pulumi.runtime.test
def test_real_mosquitto_enforces_passwords_and_acls(rec, tmp_path):
    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub"):
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
    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub"):
        require_tool(tool)
    run = synth_result(env)
    files = run.artifacts
    conf_path = "configs/mtig/mosquitto-config/mosquitto.conf"
    # Both committed environments deploy MTIG: a synth without its broker config lost a layer.
    assert conf_path in files, f"{env}: the synth renders no Mosquitto config"
    from components.mtig import render
    from synth.engine import synth_config
    from synth.mocks import random_bytes

    _, _, values = synth_config(env)
    passwords = {k.removeprefix("mqttPassword-"): v for k, v in values.items() if k.startswith("mqttPassword-")}
    salts = {user: base64.b64encode(random_bytes(f"mtig-mosquitto-salt-{user}", render.SALT_BYTES)).decode()
             for user in passwords}
    broker = Broker(files[conf_path], files["configs/mtig/mosquitto-config/acl"], render.password_file(passwords, salts),
                    tmp_path)
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
