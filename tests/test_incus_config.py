"""stacks/config/incus.py: the single-field validators, secrets, declared hosts and defaults.
(Cross-field problems are covered by tests/fixtures/invalid/incus-*.yaml through test_config.py.)"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stacks.config import incus as section
from stacks.config import loader
from synth.engine import synth_config


@pytest.mark.parametrize("value", ["0 2 * * *", "*/15 * * * *", "0 0-6/2 1,15 * 1-5", "30 4 * 12 0", "@daily",
                                   "@hourly, @weekly", "0 0 * * 7", "0 3 * jan-mar mon-fri", "0 2 * * *, @weekly", "0 4 ? * sun"])
def test_valid_schedules(value):
    assert section.cron_problem(value) is None


@pytest.mark.parametrize("value, problem", [
    ("0 2 * *", "is not a cron expression (minute hour day-of-month month day-of-week) or alias such as @daily"),
    ("60 2 * * *", "cron minute field '60' is not within 0-59"),
    ("0 2 0 * *", "cron day of month field '0' is not within 1-31"),
    ("0 2 * 13 *", "cron month field '13' is not within 1-12"),
    ("*/0 * * * *", "cron minute field '*/0' has an invalid step"),
    ("0 2 * * mond", "cron day of week field 'mond' is not within 0-7"),
    ("0 2 * * *,@weekly", "cron day of week field '*,@weekly' is not within 0-7"),
    ("@daily, @fortnightly", "unknown schedule alias '@fortnightly' (one of @hourly, @daily, @midnight, @weekly, "
                            "@monthly, @annually, @yearly)"),
])
def test_invalid_schedules(value, problem):
    assert section.cron_problem(value) == problem


@pytest.mark.parametrize("value", ["tcp:0.0.0.0:1883", "udp:127.0.0.1:53", "tcp:[::]:443", "tcp:0.0.0.0:8000-8010",
                                   "unix:/run/app.sock", "unix:@/abstract"])
def test_valid_proxy_endpoints(value):
    assert section.endpoint_problem(value) is None


@pytest.mark.parametrize("value, problem", [
    ("tcp:0.0.0.0", "is not a proxy endpoint such as tcp:0.0.0.0:1883, udp:127.0.0.1:53 or unix:/run/x.sock"),
    ("sctp:0.0.0.0:1883", "is not a proxy endpoint such as tcp:0.0.0.0:1883, udp:127.0.0.1:53 or unix:/run/x.sock"),
    ("tcp:127.0.0.1:70000", "has a port outside 1-65535"),
    ("tcp:127.0.0.1:0", "has a port outside 1-65535"),
    ("tcp:0.0.0.0:90-80", "has a port range that runs backwards"),
])
def test_invalid_proxy_endpoints(value, problem):
    assert section.endpoint_problem(value) == problem


@pytest.mark.parametrize("expiry, ok", [("7d", True), ("2w", True), ("12H", True), ("1m 2w", True),
                                        ("30M", True), ("7days", False), ("d7", False), ("", False)])
def test_expiry_must_be_an_incus_duration(expiry, ok):
    if ok:
        assert section.Snapshots(expiry=expiry).expiry == expiry
    else:
        with pytest.raises(ValidationError, match="is not a duration"):
            section.Snapshots(expiry=expiry)


def test_snapshot_defaults_are_the_seeds():
    snaps = section.DataVolume().snapshots
    assert (snaps.schedule, snaps.expiry, snaps.pattern) == ("0 2 * * *", "7d", "snap%d")


def test_snapshot_pattern_needs_a_counter():
    with pytest.raises(ValidationError, match="must contain %d"):
        section.Snapshots(pattern="nightly")


def test_default_networks_are_the_seeds():
    incus = section.Incus(remotes={"iapetus": {"address": "https://10.0.0.2:8443"}})
    assert {k: str(v.cidr) for k, v in incus.networks.items()} == {
        "production": "10.10.0.0/24", "management": "10.20.0.0/24", "gitops": "10.30.0.0/24"}


def test_oci_instance_needs_an_image():
    with pytest.raises(ValidationError, match="an OCI application container needs image"):
        section.Instance(remote="iapetus", network="gitops", kind="oci")


def test_remote_address_must_be_https_or_unix():
    with pytest.raises(ValidationError, match="is not an Incus remote address"):
        section.Remote(address="10.0.0.2:8443")
    assert section.Remote(address="unix://").address == "unix://"


def _lothlorien():
    entries, secret_keys, _ = synth_config("lothlorien")
    return loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)


def test_token_trust_needs_a_secret_and_certificate_trust_does_not():
    cfg = _lothlorien()
    # lothlorien's remotes trust a client certificate (CI cannot reuse a one-time token): no secret.
    assert [spec.key for spec in section.secrets(cfg)] == []
    remotes = dict(cfg.incus.remotes)
    remotes["iapetus"] = remotes["iapetus"].model_copy(update={"trust": "token"})
    with_token = cfg.model_copy(update={"incus": cfg.incus.model_copy(update={"remotes": remotes})})
    assert [spec.key for spec in section.secrets(with_token)] == ["incusToken-iapetus"]


def test_lothlorien_declares_its_incus_instances_as_hosts():
    hosts = {h.name: h for h in section.hosts(_lothlorien())}
    assert sorted(hosts) == ["atlantis", "coredns", "mosquitto"]
    assert hosts["mosquitto"].address == "10.50.0.54" and hosts["mosquitto"].platform == "incus"
    assert hosts["atlantis"].distribution is None  # OCI application container


def test_lothlorien_has_a_standalone_control_host_and_a_three_node_cluster():
    incus = _lothlorien().incus
    assert incus.remotes["iapetus"].members == ()
    assert len(incus.remotes["cluster01"].members) == 3
    # System containers run no service the program configures: none of them publishes a proxy.
    assert {name: inst.proxies for name, inst in incus.instances.items() if inst.kind == "system"} == {
        "coredns": {}, "mosquitto": {}}
    assert incus.networks["lan"].type == "macvlan" and incus.networks["lan"].parent == "eno1"
