"""A real Mosquitto 2 broker started from a config the program renders (the cluster broker's
ConfigMap, the edge broker's host config), with its paths and listeners moved into a temporary
directory and onto free loopback ports. Shared by the broker, isolation and edge tests."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from pathlib import Path

from tests.tools import require_tool

HOST = "127.0.0.1"
TIMEOUT = 10  # seconds for any client command and for the broker to listen
CLIENTS = ("mosquitto", "mosquitto_pub", "mosquitto_sub")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def relocated(conf: str, moved: dict[str, str]) -> str:
    """`conf` with each line of `moved` (present exactly once, or the test fails) replaced."""
    for old, new in moved.items():
        assert conf.count(old) == 1, f"rendered config lacks {old!r}:\n{conf}"
        conf = conf.replace(old, new)
    if os.geteuid() == 0:
        # Started as root, mosquitto drops to the `mosquitto` user, which cannot read the
        # test's private temporary directory; on the host or in the pod it runs as that user already.
        conf += "user root\n"
    return conf


def synth_passwords(env: str) -> tuple[dict[str, str], str]:
    """The MQTT passwords the synth of `env` used and the password file the program renders from them.

    The password file is a Secret, so the synth never writes it out; it is rebuilt with the program's
    renderer from the same placeholder secrets and the synth's RandomBytes salts (deterministic)."""
    from components.mtig import render
    from synth.engine import synth_config
    from synth.mocks import random_bytes

    _, _, values = synth_config(env)
    passwords = {k.removeprefix("mqttPassword-"): v for k, v in values.items() if k.startswith("mqttPassword-")}
    assert passwords, f"{env}: no MQTT passwords in the synth's secrets"
    salts = {user: base64.b64encode(random_bytes(f"mtig-mosquitto-salt-{user}", render.SALT_BYTES)).decode()
             for user in passwords}
    return passwords, render.password_file(passwords, salts)


class Mosquitto:
    """mosquitto -c tmp/mosquitto.conf, listening on `port` before the constructor returns."""

    def __init__(self, conf: str, tmp: Path, port: int, files: dict[str, str], cafile: Path | None = None):
        for tool in CLIENTS:
            require_tool(tool)
        self.port, self.cafile = port, cafile
        (tmp / "data").mkdir()
        for name, text in files.items():
            (tmp / name).write_text(text)
            (tmp / name).chmod(0o600)
        (tmp / "mosquitto.conf").write_text(conf)
        self.log = tmp / "broker.log"
        self.process = subprocess.Popen(["mosquitto", "-c", str(tmp / "mosquitto.conf")],
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT)
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

    def _client(self, cafile: Path | None) -> list[str]:
        cafile = cafile or self.cafile
        return ["-h", HOST, "-p", str(self.port), "-V", "mqttv5", *(["--cafile", str(cafile)] if cafile else [])]

    def pub(self, topic: str, message: str, user: str | None = None, password: str | None = None,
            cafile: Path | None = None):
        cmd = ["mosquitto_pub", *self._client(cafile), "-q", "1", "-r", "-t", topic, "-m", message]
        if user is not None:
            cmd += ["-u", user, "-P", password or ""]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)

    def read_retained(self, topic: str, user: str, password: str) -> list[str]:
        """Retained messages `user` can read under `topic` (waits 2 s for more)."""
        cmd = ["mosquitto_sub", *self._client(None), "-u", user, "-P", password, "-t", topic, "-v", "-W", "2"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        # 27: timed out waiting for more messages, the expected end.
        assert done.returncode == 27 and "Not authorized" not in done.stderr, done
        return sorted(done.stdout.splitlines())
