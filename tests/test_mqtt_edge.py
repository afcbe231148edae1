"""The edge MQTT broker role (issue #18 point 4): the cluster broker's users, ACL and hashing on
a host, TLS from the lab CA. A real Mosquitto runs the rendered config with a CA and server
certificate made here by openssl, and a client verifies the broker against that CA."""

from __future__ import annotations

import base64
import copy
import re
import subprocess
from pathlib import Path

import pytest

from components.mtig import edge, render
from stacks.config import loader
from stacks.mtig import mqtt_users
from synth.engine import synth_config
from synth.wire import MASK
from tests.mosquitto_broker import HOST, Mosquitto, free_port, relocated
from tests.tools import require_tool

PASSWORDS = {"telegraf": "telegraf-pw-1", "sensor-livingroom": "living-pw-2", "sensor-garage": "garage-pw-3",
             "sensor-greenhouse": "green-pw-4", "mqtt-exporter": "exporter-pw-5"}
# One random salt per user (base64, as RandomBytes gives them): 12 distinct bytes each.
SALTS = {user: base64.b64encode(f"salt{i:08d}".encode()).decode() for i, user in enumerate(sorted(PASSWORDS))}


def _cfg():
    entries, secret_keys, _ = synth_config("lothlorien")
    return loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)


def _heredoc(script: str, delimiter: str) -> str:
    match = re.search(rf"<<'{delimiter}'\n(.*?)\n{delimiter}\n", script, re.S)
    assert match, delimiter
    return match.group(1) + "\n"


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run([require_tool("openssl"), *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _certificates(tmp: Path) -> None:
    """A CA and a server certificate for 127.0.0.1, as the lab CA would issue (ECDSA P-256)."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=test lab root CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=tmp)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "tls.key", "-out", "tls.csr", cwd=tmp)
    (tmp / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "tls.crt", cwd=tmp)


@pytest.mark.system
def test_install_script_passes_shellcheck_and_keeps_secrets_inside():
    cfg = _cfg()
    script = edge.install_script("debian", mqtt_users(cfg.mtig), PASSWORDS, SALTS, "CERT\n", "KEY\n", "CA\n")
    done = subprocess.run([require_tool("shellcheck"), "--severity=style", "-"], input=script,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    assert "apt-get install -y -qq --no-install-recommends mosquitto" in script
    assert "dnf install -y -q mosquitto" in edge.install_script("rhel", mqtt_users(cfg.mtig), PASSWORDS, SALTS, "C", "K", "A")
    # Same hashing as the cluster broker: the password file is the renderer's, byte for byte.
    assert _heredoc(script, "HOMELAB_MQTT_PASSWD") == render.password_file(PASSWORDS, SALTS)
    assert _heredoc(script, "HOMELAB_MQTT_ACL") == render.acl_file(mqtt_users(cfg.mtig))


@pytest.mark.system
def test_a_real_edge_broker_serves_tls_with_the_clusters_users_and_acl(tmp_path):
    cfg = _cfg()
    _certificates(tmp_path)
    plain, tls = free_port(), free_port()
    moved = {
        "password_file /etc/mosquitto/passwd\n": f"password_file {tmp_path / 'passwd'}\n",
        "acl_file /etc/mosquitto/acl\n": f"acl_file {tmp_path / 'acl'}\n",
        "persistence_location /var/lib/mosquitto/\n": f"persistence_location {tmp_path / 'data'}/\n",
        "listener 1883 127.0.0.1\n": f"listener {plain} 127.0.0.1\n",  # plain MQTT: the host only
        "listener 8883\n": f"listener {tls} {HOST}\n",
        "certfile /etc/mosquitto/certs/tls.crt\n": f"certfile {tmp_path / 'tls.crt'}\n",
        "keyfile /etc/mosquitto/certs/tls.key\n": f"keyfile {tmp_path / 'tls.key'}\n",
    }
    broker = Mosquitto(relocated(edge.edge_conf(), moved), tmp_path, tls,
                       {"passwd": render.password_file(PASSWORDS, SALTS), "acl": render.acl_file(mqtt_users(cfg.mtig))},
                       cafile=tmp_path / "ca.crt")
    try:
        def pub(user: str | None, topic: str, cafile: Path | None = None):
            return broker.pub(topic, "1", user, PASSWORDS[user] if user else None, cafile=cafile)

        ok = pub("sensor-garage", "sensors/garage/temperature")
        assert ok.returncode == 0 and not ok.stderr, ok
        assert "Not authorized" in pub(None, "sensors/garage/temperature").stderr  # no anonymous clients
        denied = pub("sensor-garage", "sensors/livingroom/temperature")
        assert "Not authorized" in denied.stderr, denied  # the cluster's ACL
        # A client that does not trust the lab CA cannot connect.
        (tmp_path / "other").mkdir()
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                 "-subj", "/CN=other", "-keyout", "other/ca.key", "-out", "other/ca.crt", cwd=tmp_path)
        untrusted = pub("sensor-garage", "sensors/garage/temperature", tmp_path / "other" / "ca.crt")
        assert untrusted.returncode != 0, untrusted
        assert broker.read_retained("sensors/#", "telegraf", PASSWORDS["telegraf"]) == ["sensors/garage/temperature 1"]
    finally:
        broker.stop()


def test_lothlorien_runs_its_mosquitto_instance_as_the_edge_broker(synth_result):
    run = synth_result("lothlorien")
    (cert,) = [r for r in run.of_type("tls:index/certRequest:CertRequest") if r["name"].startswith("mosquitto-")]
    assert cert["inputs"]["dnsNames"] == ["mosquitto.lothlorien.lan", "mosquitto"]
    assert cert["inputs"]["ipAddresses"] == ["10.50.0.54"]
    (signed,) = [r for r in run.of_type("tls:index/locallySignedCert:LocallySignedCert") if r["name"].startswith("mosquitto-")]
    assert signed["inputs"]["caPrivateKeyPem"] == MASK and "server_auth" in signed["inputs"]["allowedUses"]
    (command,) = [r for r in run.of_type("command:remote:Command") if r["name"] == "mosquitto-edge-mosquitto"]
    assert command["inputs"]["stdin"] == MASK  # password file and TLS key travel on stdin only
    assert command["inputs"]["create"] == "sudo --non-interactive bash -s"
    assert run.outputs["endpoints"]["mqtt_edge"] == ["mqtts://mosquitto.lothlorien.lan:8883"]
    assert run.outputs["dns"]["records"]["mosquitto.lothlorien.lan"] == "10.50.0.54"
    # prometheus went: Prometheus runs on k3s; no Incus container is named for a service it lacks.
    assert not [h for h in run.outputs["inventory"] if h["name"] == "prometheus"]


def test_an_edge_broker_needs_the_mtig_users_and_the_ca():
    entries, secret_keys, _ = synth_config("lothlorien")
    entries = copy.deepcopy(entries)
    entries.pop("homelab:ca")
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    assert caught.value.lines == [
        "incus.instances.mosquitto.groups: group 'mqtt' (edge broker) takes its users and ACL from homelab:mtig "
        "and its certificate from homelab:ca; configure both (got ['mqtt'])"]


def test_an_incus_only_lab_runs_dns_and_mqtt_without_k3s(tmp_path):
    """The seeds' Incus-only lab: no Proxmox, no k3s; its Incus instances are the DNS and the broker."""
    import subprocess
    import sys

    import yaml

    from tests.conftest import ROOT, SynthRun

    base = yaml.safe_load((ROOT / "Pulumi.lothlorien.yaml").read_text())["config"]
    environment = {**base["homelab:environment"], "name": "incuslab", "domain": "incuslab.lan", "production": False}
    # A staging lab of its own: not production's VLAN (the peer check refuses that).
    environment["networks"] = {"production": {**environment["networks"]["production"], "vlan": 70}}
    incus = copy.deepcopy(base["homelab:incus"])
    config = {"homelab:environment": environment, "homelab:incus": incus, "homelab:ca": base["homelab:ca"],
              "homelab:mtig": base["homelab:mtig"]}
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.incuslab.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=True))
    out = tmp_path / "build"
    done = subprocess.run([sys.executable, "-m", "synth", "--env", "incuslab", "--out", str(out),
                           "--stack-dir", str(stacks)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    run = SynthRun("incuslab", out / "incuslab", done.returncode, done.stdout, done.stderr)
    types = {r["type"] for r in run.resources}
    assert not any(t.startswith(("kubernetes:", "proxmoxve:")) for t in types)  # no k3s, no Proxmox
    commands = {r["name"] for r in run.of_type("command:remote:Command")}
    assert {"coredns-dns-bind", "mosquitto-edge-mosquitto"} <= commands
    assert run.outputs["dns"]["records"]["mosquitto.incuslab.lan"] == "10.50.0.54"
    assert run.outputs["endpoints"]["mqtt_edge"] == ["mqtts://mosquitto.incuslab.lan:8883"]
    assert run.outputs["ca"]["root_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert run.outputs["k3s"] is None
