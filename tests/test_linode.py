"""Linode instances: firewall, cloud-init through metadata or provisioning over SSH, config checks."""

from __future__ import annotations

import base64
import subprocess

import pulumi
import pytest
import yaml

from cloudinit.render import ProvisionSpec, provision_script, user_data
from components.catalog import CATALOG
from components.linode import FirewallRule, LinodeHost, LinodeHostArgs, public_ipv4
from cloudinit.render import CLOUD_INIT_WAIT
from stacks.config import loader
from stacks.config.model import EnvironmentConfig
from tests.conftest import registered

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"
SPEC = ProvisionSpec(distribution=CATALOG["debian12"], user="lavender", ssh_authorized_keys=(KEY,),
                     hostname="fleur", fqdn="fleur.lothlorien.lan", guest_agent=False, python3=True)


def args(**changes) -> LinodeHostArgs:
    values = dict(
        label="fleur", region="us-ord", type="g6-standard-2", image="linode/debian12", authorized_keys=(KEY,),
        ssh_sources=("203.0.113.0/24", "198.51.100.7/32"), operator_user="lavender",
        private_key=pulumi.Output.secret("test-private-key"), user_data=user_data(SPEC),
        services=(FirewallRule("https", "TCP", ("0.0.0.0/0",), "443"),), private_ip=True,
        tags=("web", "homelab", "lothlorien"),
    )
    values.update(changes)
    return LinodeHostArgs(**values)


def one(name: str, type_: str) -> dict:
    found = registered(name, type_)
    assert len(found) == 1, [r["name"] for r in found]
    return found[0]


def test_public_ipv4_ignores_set_order_and_the_private_address():
    assert public_ipv4(["192.168.139.12", "172.236.1.9"]) == "172.236.1.9"
    assert public_ipv4(["172.236.1.9", "192.168.139.12"]) == "172.236.1.9"
    with pytest.raises(ValueError, match="no public IPv4"):
        public_ipv4(["192.168.139.12"])


@pytest.mark.parametrize("status,ready", [(0, True), (2, True), (1, False)])
def test_readiness_accepts_done_and_degraded_cloud_init_but_not_an_error(status, ready):
    # cloud-init's exit codes: 0 done, 2 done with recoverable errors (>= 23.4), 1 error.
    shell = f"cloud-init() {{ echo \"status $*\"; return {status}; }}\n{CLOUD_INIT_WAIT}"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=False)
    assert done.stdout == "status status --wait --long\n"
    assert (done.returncode == 0) is ready


def test_exactly_one_way_of_provisioning():
    with pytest.raises(ValueError, match="exactly one of user_data"):
        args(provision_script="#!/bin/bash\n")
    with pytest.raises(ValueError, match="exactly one of user_data"):
        args(user_data=None)


@pytest.mark.parametrize("production", [False, True])
@pulumi.runtime.test
def test_firewall_drops_inbound_except_ssh_ranges_and_declared_services(production):
    host = LinodeHost(f"fw{int(production)}", args(label=f"fw{int(production)}", protect=production))

    def check(_):
        fw = one(f"fw{int(production)}-firewall", "linode:index/firewall:Firewall")["inputs"]
        assert (fw["inboundPolicy"], fw["outboundPolicy"]) == ("DROP", "ACCEPT")
        assert fw["inbounds"] == [
            {"label": "ssh", "action": "ACCEPT", "protocol": "TCP", "ports": "22",
             "ipv4s": ["198.51.100.7/32", "203.0.113.0/24"]},
            {"label": "https", "action": "ACCEPT", "protocol": "TCP", "ports": "443", "ipv4s": ["0.0.0.0/0"]},
        ]
        assert fw["tags"] == ["homelab", "lothlorien", "web"]
        instance = one(f"fw{int(production)}-instance", "linode:index/instance:Instance")
        assert instance["options"]["protect"] is production
        # Attached at creation, as the integer id the provider expects.
        assert isinstance(instance["inputs"]["firewallId"], (int, float))

    return host.firewall.id.apply(lambda _: host.ready.id).apply(check)


@pulumi.runtime.test
def test_cloud_init_mode_delivers_user_data_through_metadata_and_waits_for_it():
    host = LinodeHost("ci", args(label="ci"))

    def check(values):
        public, private, _ = values
        inputs = one("ci-instance", "linode:index/instance:Instance")["inputs"]
        assert (inputs["region"], inputs["type"], inputs["image"], inputs["label"]) == (
            "us-ord", "g6-standard-2", "linode/debian12", "ci")
        assert inputs["authorizedKeys"] == [KEY]
        assert inputs["privateIp"] is True
        assert "rootPass" not in inputs
        (metadata,) = inputs["metadatas"]
        decoded = base64.b64decode(metadata["userData"]).decode()
        assert decoded == user_data(SPEC)
        assert yaml.safe_load(decoded)["ssh_pwauth"] is False
        # The mock returns the ipv4s set with the private address first.
        assert public.startswith("172.") and private.startswith("192.168.")
        ready = one("ci-ready", "command:remote:Command")
        assert ready["inputs"]["create"] == CLOUD_INIT_WAIT
        assert ready["inputs"]["connection"] == "[secret]"
        assert registered("ci-provision") == []

    return pulumi.Output.all(host.public_ip, host.private_ip, host.ready.id).apply(check)


@pulumi.runtime.test
def test_ssh_mode_runs_the_script_on_stdin_and_updates_in_place():
    script = provision_script(SPEC, disable_root=False)
    host = LinodeHost("sshmode", args(label="sshmode", region="us-central", user_data=None,
                                      provision_script=script, private_ip=False))

    def check(_):
        inputs = one("sshmode-instance", "linode:index/instance:Instance")["inputs"]
        assert "metadatas" not in inputs
        provision = one("sshmode-provision", "command:remote:Command")
        assert provision["inputs"]["stdin"] == script
        assert provision["inputs"]["create"] == provision["inputs"]["update"] == "bash -s"
        # No triggers: a changed script is an update of this resource, never a replacement.
        assert "triggers" not in provision["inputs"]
        assert registered("sshmode-ready") == []
        assert host.private_ip is None

    return host.ready.id.apply(check)


def _config(linode: dict, onboard: list | None = None) -> dict:
    entries = {
        "homelab:environment": {
            "name": "mirkwood", "domain": "mirkwood.lan",
            "networks": {"staging": {"cidr": "10.40.0.0/24"}},
            "operator": {"ssh_authorized_keys": [KEY]},
        },
        "homelab:linode": linode,
        "homelab:linodeToken": "x", "homelab:sshPrivateKey": "x",
    }
    if onboard is not None:
        entries["homelab:onboard"] = onboard
    return entries


def _errors(entries: dict) -> list[str]:
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys={"homelab:linodeToken", "homelab:sshPrivateKey"})
    return caught.value.lines


INSTANCE = {"name": "elanor", "region": "us-ord", "type": "g6-nanode-1", "distribution": "debian12"}


def test_valid_linode_section_loads():
    cfg = loader.validate(_config({"ssh_sources": ["203.0.113.0/24"], "instances": [INSTANCE]}), stack="mirkwood",
                          secret_keys={"homelab:linodeToken", "homelab:sshPrivateKey"})
    assert isinstance(cfg, EnvironmentConfig)
    assert cfg.linode.instances[0].image == "linode/debian12"


def test_region_type_and_image_outside_the_catalog_are_reported_together():
    bad = {**INSTANCE, "region": "us-centrl", "type": "g6-huge-99", "distribution": "ubuntu24"}
    assert sorted(_errors(_config({"ssh_sources": ["203.0.113.0/24"], "instances": [bad]}))) == [
        "linode.instances[0].distribution: is not a distribution with a Linode image; "
        "known: debian12, debian13, rocky10, rocky9, ubuntu2404 (got 'ubuntu24')",
        "linode.instances[0].region: is not a Linode region in the catalog; did you mean 'us-central'? (got 'us-centrl')",
        "linode.instances[0].type: is not a Linode type in the catalog; known: g6-dedicated-2, g6-dedicated-4, "
        "g6-nanode-1, g6-standard-1, g6-standard-2, g6-standard-4, g6-standard-6 (got 'g6-huge-99')",
    ]


def test_cloud_init_needs_the_metadata_service_and_a_cloud_init_image():
    no_metadata = {**INSTANCE, "region": "us-central"}
    no_cloud_init = {**INSTANCE, "name": "rosie", "distribution": "rocky10"}
    over_ssh = {**INSTANCE, "name": "sam", "region": "us-central", "provision": "ssh"}
    assert _errors(_config({"ssh_sources": ["203.0.113.0/24"], "instances": [no_metadata, no_cloud_init, over_ssh]})) == [
        "linode.instances[0].provision: region us-central has no Metadata service for cloud-init; "
        "set provision: ssh (got 'cloud-init')",
        "linode.instances[1].provision: image linode/rocky10 does not support cloud-init; "
        "set provision: ssh (got 'cloud-init')",
    ]


def test_firewall_needs_ssh_sources_and_valid_ports():
    bad = {**INSTANCE, "services": [{"label": "web", "ports": "80-99999"}]}
    assert sorted(_errors(_config({"ssh_sources": [], "instances": [bad]}))) == [
        "linode.instances[0].services[0].ports: is not a port list such as '443', '80,443' or '8000-8100' "
        "(ports 1-65535) (got '80-99999')",
        "linode.ssh_sources: needs at least one source range allowed to SSH, e.g. 203.0.113.0/24 (got [])",
    ]


def test_duplicate_hostname_across_platforms_is_reported():
    onboard = [{"name": "elanor", "address": "10.40.0.31", "ssh_user": "pi", "distribution": "debian12"}]
    assert _errors(_config({"ssh_sources": ["203.0.113.0/24"], "instances": [INSTANCE]}, onboard)) == [
        "onboard[0].name: hostname is already used by linode.instances[0].name (linode) (got 'elanor')",
    ]


def test_linode_secrets_are_declared():
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate({k: v for k, v in _config({"ssh_sources": ["203.0.113.0/24"], "instances": [INSTANCE]}).items()
                         if k not in ("homelab:linodeToken", "homelab:sshPrivateKey")}, stack="mirkwood")
    assert [line.split(";")[0] for line in caught.value.lines] == [
        "homelab:linodeToken: required secret is not set (Linode API token (Linodes, Firewalls: read/write))",
        "homelab:sshPrivateKey: required secret is not set (SSH private key of the operator, for provisioning over SSH)",
    ]


def test_synth_shows_lothlorien_linode_instance_and_its_firewall(synth_result):
    run = synth_result("lothlorien")
    (instance,) = run.of_type("linode:index/instance:Instance")
    assert instance["name"] == "fleur-instance" and instance["options"]["protect"] is True
    assert instance["inputs"]["region"] == "us-central" and instance["inputs"]["image"] == "linode/debian12"
    (firewall,) = run.of_type("linode:index/firewall:Firewall")
    assert firewall["inputs"]["inboundPolicy"] == "DROP"
    assert instance["provider"] and instance["provider"].endswith("::linode")
    assert "scripts/fleur-provision.stdin.sh" in run.artifacts
    fleur = next(h for h in run.outputs["inventory"] if h["name"] == "fleur")
    assert fleur["platform"] == "linode" and fleur["addresses"]["primary"].startswith("172.")


def test_synth_shows_mirkwood_instance_provisioned_by_cloud_init(synth_result):
    run = synth_result("mirkwood")
    (instance,) = run.of_type("linode:index/instance:Instance")
    assert instance["options"]["protect"] is False
    document = yaml.safe_load(run.artifacts["linode/elanor-instance.user-data-0.yaml"])
    assert document["hostname"] == "elanor" and document["fqdn"] == "elanor.mirkwood.lan"


def test_name_fits_linode_labels_and_the_firewall_label():
    too_short, too_long = {**INSTANCE, "name": "ab"}, {**INSTANCE, "name": "a" * 30}
    message = ("is the instance's Linode label (3-64 characters) and names its firewall '<name>-fw' "
               "(at most 32): use 3-29 characters")
    assert _errors(_config({"ssh_sources": ["203.0.113.0/24"], "instances": [too_short, too_long]})) == [
        f"linode.instances[0].name: {message} (got 'ab')",
        f"linode.instances[1].name: {message} (got '{'a' * 30}')",
    ]
