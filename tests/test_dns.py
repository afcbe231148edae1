"""The lab DNS (components/dns, stacks/dns.py): BIND 9 config and zone rendered from the inventory,
checked by BIND's own checkers, and a real `named` started on a free loopback port that answers
for every host of the inventory and every name the program publishes."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from components.dns import render
from components.dns.render import Layout, Record, ZoneSpec
from tests.conftest import ENVIRONMENTS
from tests.helpers import some
from tests.tools import require_tool

HOST = "127.0.0.1"


def _heredoc(script: str, delimiter: str) -> str:
    match = re.search(rf"<<'{delimiter}'\n(.*?)\n{delimiter}\n", script, re.S)
    assert match, f"the install script has no {delimiter} heredoc"
    return match.group(1) + "\n"


def dns_script(run) -> str:
    scripts = {path: text for path, text in run.artifacts.items()
               if path.startswith("scripts/") and path.endswith("-dns-bind.stdin.sh")}
    assert scripts, "no lab DNS install script among the artifacts"
    texts = set(scripts.values())
    assert len(texts) == 1, "every dns host must get the same zone and config"
    return texts.pop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- pure renderers -------------------------------------------------------------------------------

SPEC = ZoneSpec(domain="example.lan", records=(Record("ns1", "10.0.0.2"), Record("a", "10.0.0.3")),
                nameservers=("ns1",), forwarders=("10.0.0.1",))


def _serial(zone: str) -> int:
    return int(re.search(r"^\s+(\d+) ; serial", zone, re.M).group(1))


def test_zone_is_deterministic_and_its_serial_moves_only_with_its_content():
    reordered = ZoneSpec(domain="example.lan", records=tuple(reversed(SPEC.records)) + SPEC.records[:1],
                         nameservers=("ns1",), forwarders=("10.0.0.1",))
    assert render.zone_file(SPEC) == render.zone_file(reordered)  # order and duplicates do not matter
    moved = ZoneSpec(domain="example.lan", records=(Record("ns1", "10.0.0.2"), Record("a", "10.0.0.4")),
                     nameservers=("ns1",), forwarders=("10.0.0.1",))
    assert _serial(render.zone_file(moved)) != _serial(render.zone_file(SPEC))
    assert 0 < _serial(render.zone_file(SPEC)) < 2**31


def test_a_name_server_needs_an_address_and_names_are_rfc1123():
    with pytest.raises(ValueError, match="name server 'ns2' has no A record"):
        ZoneSpec(domain="example.lan", records=SPEC.records, nameservers=("ns2",), forwarders=())
    with pytest.raises(ValueError, match="RFC 1123"):
        Record("Bad_Name", "10.0.0.9")


# --- the committed environments -------------------------------------------------------------------

@pytest.mark.system
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_zone_and_config_pass_bind_checkers(env, synth_result, tmp_path):
    script = dns_script(synth_result(env))
    domain = synth_result(env).outputs["environment"]["domain"]
    zone, conf = _heredoc(script, render.ZONE_DELIMITER), _heredoc(script, render.CONF_DELIMITER)
    (tmp_path / "zone").write_text(zone)
    checked = subprocess.run([require_tool("named-checkzone"), domain, str(tmp_path / "zone")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The config as the host gets it, with the zone's path moved here so -z can load it.
    zone_path = re.search(r'file "([^"]+)";', conf).group(1)
    assert zone_path == f"/var/lib/bind/db.{domain}"
    (tmp_path / "named.conf").write_text(conf.replace(zone_path, str(tmp_path / "zone")))
    checked = subprocess.run([require_tool("named-checkconf"), "-z", str(tmp_path / "named.conf")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shellchecked = subprocess.run([require_tool("shellcheck"), "--severity=style", "-"], input=script,
                                  capture_output=True, text=True)
    assert shellchecked.returncode == 0, shellchecked.stdout


class Named:
    """A real named serving the rendered zone on a free loopback port."""

    def __init__(self, zone: str, domain: str, tmp: Path):
        self.port = free_port()
        (tmp / "zone").write_text(zone)
        layout = Layout(packages=(), config=str(tmp / "named.conf"), zone_dir=str(tmp), directory=str(tmp))
        spec = ZoneSpec(domain=domain, records=(Record("ns", "127.0.0.1"),), nameservers=("ns",),
                        forwarders=(), port=self.port, listen=(HOST,))
        conf = render.named_conf(spec, layout, pid_file=str(tmp / "named.pid"))
        (tmp / "named.conf").write_text(conf.replace(render.zone_path(spec, layout), str(tmp / "zone")))
        self.log = tmp / "named.log"
        self.process = subprocess.Popen([require_tool("named"), "-g", "-c", str(tmp / "named.conf")],
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"named exited: {self.log.read_text()}"
            if self.query(domain, "SOA"):
                return
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"named did not answer on {self.port}: {self.log.read_text()}")

    def query(self, name: str, rtype: str = "A") -> list[str]:
        done = subprocess.run([require_tool("dig"), "+short", "+time=2", "+tries=1", "-p", str(self.port),
                               f"@{HOST}", name, rtype], capture_output=True, text=True)
        return sorted(line for line in done.stdout.splitlines() if line and not line.startswith(";"))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.mark.system
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_real_server_answers_for_every_name_in_the_inventory(env, synth_result, tmp_path):
    run = synth_result(env)
    outputs = run.outputs
    domain = outputs["environment"]["domain"]
    server = Named(_heredoc(dns_script(run), render.ZONE_DELIMITER), domain, tmp_path)
    try:
        inventory = outputs["inventory"]
        assert inventory
        for host in inventory:
            assert server.query(host["fqdn"]) == [host["addresses"]["primary"]], host["fqdn"]
        # Every name the program publishes in the domain: outputs.dns, the k3s API, the endpoints.
        records = outputs["dns"]["records"]
        for fqdn, address in some(records.items(), "outputs.dns.records"):
            assert server.query(fqdn) == [address], fqdn
        urls = [u for value in outputs["endpoints"].values() if value
                for u in (value if isinstance(value, list) else [value])]
        published = [urlsplit(url).hostname for url in urls]
        published.append(urlsplit(outputs["k3s"]["api_endpoint"]).hostname)
        in_domain = [name for name in published if name.endswith("." + domain)]
        assert f"grafana.{domain}" in in_domain
        for name in in_domain:
            assert server.query(name), f"{name} is published but the zone does not serve it"
        assert server.query(f"nothing-here.{domain}") == []
        # The name servers of the zone are the dns hosts, each with its address.
        ns = server.query(domain, "NS")
        assert ns and all(server.query(n) for n in ns)
    finally:
        server.stop()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_published_endpoint_host_is_an_address_a_record_or_in_cluster(env, synth_result):
    outputs = synth_result(env).outputs
    records, domain = outputs["dns"]["records"], outputs["environment"]["domain"]
    urls = [(key, u) for key, value in outputs["endpoints"].items() if value
            for u in (value if isinstance(value, list) else [value])]
    named_urls = [(key, url, urlsplit(url).hostname) for key, url in urls]
    named_urls = [(key, url, host) for key, url, host in named_urls
                  if host is not None and not re.fullmatch(r"[\d.]+", host) and not host.endswith(".svc.cluster.local")]
    for key, url, host in some(named_urls, "endpoints published under a DNS name"):
        assert host in records, f"endpoints.{key} {url}: {host} has no record in the zone of {domain}"


def test_hosts_resolve_through_the_lab_dns_first(synth_result):
    resources = synth_result("mirkwood").resources
    guests = {r["name"]: r for r in resources
              if r["type"] in ("proxmoxve:index/vmLegacy:VmLegacy", "proxmoxve:index/containerLegacy:ContainerLegacy")
              and (r["inputs"].get("initialization") or {}).get("dns")}
    vm = guests["mirkwood-k3s-s1-vm"]["inputs"]["initialization"]["dns"]
    assert vm["servers"] == ["10.40.0.10", "10.40.0.1"], vm
    # The DNS host itself asks upstream (BIND is not up while it is provisioned).
    dns = next(r for name, r in guests.items() if name.startswith("mirkwood-dns"))
    assert dns["inputs"]["initialization"]["dns"]["servers"] == ["10.40.0.1"]


# --- validation: names, resolvers, ingress classes and LoadBalancers --------------------------------

def _problems(env: str, edit) -> list[str]:
    import copy

    from stacks.config import loader
    from synth.engine import synth_config

    entries, secret_keys, _ = synth_config(env)
    entries = copy.deepcopy(entries)
    edit(entries)
    try:
        loader.validate(entries, stack=env, secret_keys=secret_keys)
    except loader.ConfigError as error:
        return sorted(error.lines)
    return []


def test_a_published_name_outside_the_zone_or_without_a_dns_host_is_refused():
    def outside(e):
        e["homelab:mtig"]["grafana"]["hostname"] = "grafana.example.com"
        e["homelab:k3s"]["clusters"][0]["tls_san"] = ["k3s.mirkwood.lan", "mirkwood-k3s-a1.mirkwood.lan"]
    assert _problems("mirkwood", outside) == [
        "k3s.clusters[0].tls_san[1]: is the FQDN of host mirkwood-k3s-a1 (proxmox.vms[1]) "
        "(got 'mirkwood-k3s-a1.mirkwood.lan')",
        "mtig.grafana.hostname: is outside the environment's domain mirkwood.lan: no record of the lab DNS "
        "serves it (got 'grafana.example.com')",
    ]

    def no_dns_host(e):
        e["homelab:proxmox"]["containers"][0]["groups"] = ["utility"]
    assert _problems("mirkwood", no_dns_host) == [
        "k3s.clusters[0].tls_san[0]: no host of group 'dns' serves the zone mirkwood.lan; add the group to a host "
        "(got 'k3s.mirkwood.lan')",
        "mtig.grafana.hostname: no host of group 'dns' serves the zone mirkwood.lan; add the group to a host "
        "(got 'grafana.mirkwood.lan')",
    ]


def test_forwarding_to_the_lab_dns_itself_is_a_loop():
    def loop(e):
        e["homelab:environment"]["dns_forwarders"] = ["10.40.0.1", "10.40.0.10"]
    assert _problems("mirkwood", loop) == [
        "environment.dns_forwarders[1]: is the lab DNS host mirkwood-dns itself: a forwarding loop (got '10.40.0.10')"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_an_ingress_class_or_load_balancer_nothing_runs_is_refused(env):
    # Today's bug (issue #15 point 6): class traefik while k3s disables traefik.
    def traefik_off(e):
        e["homelab:k3s"]["clusters"][0]["disable"] = ["traefik"]
    assert _problems(env, traefik_off) == [
        f"mtig.grafana.ingress_class: no ingress controller of cluster {env} serves this class; it runs: "
        "none (k3s disable: ['traefik']) (got 'traefik')"]

    def unknown_class(e):
        e["homelab:mtig"]["grafana"]["ingress_class"] = "nginx"
    assert _problems(env, unknown_class) == [
        f"mtig.grafana.ingress_class: no ingress controller of cluster {env} serves this class; it runs: "
        "traefik (got 'nginx')"]

    def no_service_lb(e):
        e["homelab:k3s"]["clusters"][0]["disable"] = ["servicelb"]
    assert _problems(env, no_service_lb) == [
        "k3s.clusters[0].disable: monitoring publishes Prometheus, Alertmanager and Loki as LoadBalancer "
        "Services: servicelb must run (got ['servicelb'])"]


# --- the install script for real, twice, in a Debian bookworm root filesystem ------------------------

SYSTEMCTL_STUB = """#!/bin/sh
# Records what the script asks of systemd; a restart makes the unit active.
echo "$*" >> /var/log/systemctl.log
case "$1" in
  is-active) [ -f /run/named.active ] ;;
  restart) touch /run/named.active ;;
  *) exit 0 ;;
esac
"""


@pytest.mark.system
def test_install_script_installs_bind_once_and_a_second_run_changes_nothing(tmp_path):
    from tests.rootfs import make_rootfs, run_in_rootfs

    root = make_rootfs(tmp_path)
    stub = root / "usr/local/bin/systemctl"
    stub.write_text(SYSTEMCTL_STUB)
    stub.chmod(0o755)
    layout = render.LAYOUTS["debian"]
    script = render.install_script(SPEC, layout)

    first = run_in_rootfs(root, "exec bash -s", stdin=script)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (root / "etc/bind/named.conf").read_text() == render.named_conf(SPEC, layout)
    assert (root / "var/lib/bind/db.example.lan").read_text() == render.zone_file(SPEC)
    log = root / "var/log/systemctl.log"
    assert log.read_text().splitlines().count("restart named") == 1

    second = run_in_rootfs(root, "exec bash -s", stdin=script)
    assert second.returncode == 0, second.stderr
    assert "zone and config unchanged: nothing to do" in second.stdout
    assert log.read_text().splitlines().count("restart named") == 1  # nothing restarted

    moved = ZoneSpec(domain="example.lan", records=(*SPEC.records, Record("b", "10.0.0.5")),
                     nameservers=("ns1",), forwarders=("10.0.0.1",))
    third = run_in_rootfs(root, "exec bash -s", stdin=render.install_script(moved, layout))
    assert third.returncode == 0, third.stderr
    assert log.read_text().splitlines().count("restart named") == 2  # a new record: new zone, restart

    broken = render.install_script(moved, layout).replace("IN A 10.0.0.5", "IN A 10.0.0.500")
    refused = run_in_rootfs(root, "exec bash -s", stdin=broken)
    assert refused.returncode != 0 and "does not pass named-checkzone" in refused.stderr
    assert (root / "var/lib/bind/db.example.lan").read_text() == render.zone_file(moved)  # kept
