"""The policy pack: each mandatory policy fires on a deliberately bad resource, stays quiet on a good one
and on both environments' real synth output; the offline runner and the pack (as the Pulumi CLI loads
it) report the same."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policy import offline, rules
from policy.rules import Options, Resource
from tests.conftest import ENVIRONMENTS

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "policy" / "lothlorien-resources.json"
POLICY_PYTHON = ROOT / ".venv-policy" / "bin" / "python"
SIG, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


def res(type_: str, name: str, props: dict, *, stack: str = "lothlorien", protect: bool = False,
        parent: str | None = None) -> Resource:
    return Resource(type=type_, name=name, urn=f"urn:pulumi:{stack}::homelab::{type_}::{name}", props=props,
                    options=Options(protect=protect), parent=parent)


def messages(check, resource: Resource) -> list[str]:
    return list(check(resource))


def distro():
    return next(iter(rules.catalog().values()))


# --- production protection ---------------------------------------------------------------------


def test_unprotected_production_vm_is_refused():
    vm = res(rules.PVE_VM, "k3s-1-vm", {"name": "k3s-1", "tags": ["lothlorien"]})
    assert messages(rules.production_protected, vm) == [
        "proxmoxve:index/vmLegacy:VmLegacy 'k3s-1-vm' holds state in production environment 'lothlorien' but is "
        "not protected: pass protect=True (and retain_on_delete for data that must outlive it)"]


@pytest.mark.parametrize("type_", sorted(rules.STATEFUL_TYPES))
def test_every_stateful_type_needs_protection_in_production_only(type_):
    assert messages(rules.production_protected, res(type_, "data", {}))
    assert not messages(rules.production_protected, res(type_, "data", {}, protect=True))
    assert not messages(rules.production_protected, res(type_, "data", {}, stack="mirkwood"))


def catalog_template(**extra) -> Resource:
    """A template as the program builds it: nothing but a catalog image, never started, no clone."""
    props = {"template": True, "started": False, "tags": ["rocky9"],
             "disks": [{"interface": "scsi0", "importFrom": f"local:import/{distro().image_file_name}"}]}
    props.update(extra)
    return res(rules.PVE_VM, "t", props)


def test_catalog_templates_and_stateless_resources_are_not_asked_for_protection():
    assert not messages(rules.production_protected, catalog_template())
    assert not messages(rules.production_protected, res("kubernetes:core/v1:ConfigMap", "c", {}))


@pytest.mark.parametrize("evasion", [
    {},                                                                   # the flag alone, no disk
    {"disks": [{"interface": "scsi0", "importFrom": "local:import/hand-made.qcow2"}]},
    {"disks": [{"interface": "scsi0", "importFrom": f"local:import/{'x'}"}, {"interface": "scsi1", "size": 500}]},
    {"clone": {"vmId": 9000}},
    {"started": True},
], ids=["flag-only", "foreign-image", "data-disk", "clone", "started"])
def test_a_template_flag_grants_no_exemption_by_itself(evasion):
    """Evasion class: a resource exempting itself. A VM that sets `template: true` but is not
    provably a catalog template (only catalog images, no clone, never started) is held to the
    production rules like any VM."""
    if evasion:
        vm = catalog_template(**evasion)
    else:
        vm = res(rules.PVE_VM, "t", {"template": True, "tags": ["rocky9"]})
    assert not rules.is_template(vm)
    assert messages(rules.production_protected, vm)
    assert messages(rules.environment_tag, vm)


def test_production_comes_from_the_packs_own_config_not_the_stack_file(tmp_path, monkeypatch):
    """Evasion class: `production: false` in a pull request's stack file. The pack takes the production
    stacks from policy/stacks.yaml and never reads a stack file; a stack without `production:` is
    judged the same way (by name) as the loader judges it."""
    from policy import stacks

    assert stacks.production_stacks() == frozenset({"lothlorien"})
    assert rules.environment("lothlorien") == rules.Environment("lothlorien", True)
    assert rules.environment("mirkwood") == rules.Environment("mirkwood", False)
    assert rules.environment("elsewhere").production is False
    # The committed stack file does not matter: a copy that says `production: false` changes nothing.
    monkeypatch.setattr(rules, "ROOT", tmp_path)
    (tmp_path / "Pulumi.lothlorien.yaml").write_text("config:\n  homelab:environment:\n    production: false\n")
    assert rules.environment("lothlorien").production is True
    assert messages(rules.production_protected, res(rules.PVE_VM, "vm", {}))
    # A different config makes a different stack production.
    other = tmp_path / "stacks.yaml"
    other.write_text("production_stacks: [elsewhere]\n")
    assert stacks.production_stacks(other) == frozenset({"elsewhere"})
    empty = tmp_path / "empty.yaml"
    empty.write_text("production_stacks: []\n")
    with pytest.raises(ValueError, match="non-empty list"):
        stacks.production_stacks(empty)


# Type tokens the providers use for the same kind of thing (bpg 8.x Legacy and experimental,
# bpg 6.x/7.x names, Incus/LXD, Linode).
VM_VARIANTS = ["proxmoxve:index/vmLegacy:VmLegacy", "proxmoxve:index/vm:Vm", "proxmoxve:cloned/vm:Vm",
               "proxmoxve:VM/virtualMachine:VirtualMachine", "proxmoxve:index/virtualMachine2:VirtualMachine2"]
CT_VARIANTS = ["proxmoxve:index/containerLegacy:ContainerLegacy", "proxmoxve:CT/container:Container",
               "proxmoxve:index/container:Container"]


@pytest.mark.parametrize("type_", VM_VARIANTS + CT_VARIANTS + [
    "linode:index/instance:Instance", "incus:index/instance:Instance", "lxd:index/instance:Instance",
    "linode:index/volume:Volume", "incus:index/storageVolume:StorageVolume"])
def test_rules_match_by_kind_not_by_one_type_token(type_):
    """Evasion class: another token for the same kind of resource (a legacy or new variant)."""
    assert rules.kind_of(type_) in rules.STATEFUL_KINDS
    assert messages(rules.production_protected, res(type_, "data", {}))
    assert not messages(rules.production_protected, res(type_, "data", {}, protect=True))


@pytest.mark.parametrize("type_", VM_VARIANTS)
def test_every_vm_variant_is_checked_for_catalog_images_and_clones(type_):
    bad = res(type_, "vm", {"disks": [{"importFrom": "local:import/hand-made.qcow2"}]})
    assert messages(rules.pinned_images, bad) == [
        f"{type_} 'vm': disk 0 importFrom 'local:import/hand-made.qcow2' is not a catalog image"]
    stray = res(type_, "odd", {"clone": {"vmId": 4242}})
    assert list(rules.clones_from_templates([stray]))


def test_kinds_of_other_resources():
    assert rules.kind_of("proxmoxve:download/file:File") == "download"
    assert rules.kind_of("kubernetes:core/v1:Secret") == rules.kind_of("kubernetes:core/v1:SecretPatch") == "secret"
    assert rules.kind_of("proxmoxve:index/fileLegacy:FileLegacy") is None
    assert rules.kind_of("kubernetes:core/v1:ConfigMap") is None
    assert rules.kind_of("homelab:proxmox:Vm") is None  # a component: its children are judged


# --- credentials ---------------------------------------------------------------------------------


def test_credentials_in_container_env_name_value_pairs_are_refused():
    """Evasion class: the credential's name is in `name`, its value in `value`."""
    container = {"name": "app", "env": [{"name": "DB_PASSWORD", "value": "hunter2-canary"},
                                        {"name": "LOG_LEVEL", "value": "debug"},
                                        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}}},
                                        {"name": "INFLUX_TOKEN", "value": "[secret]"}]}
    deploy = res("kubernetes:apps/v1:Deployment", "app", {"spec": {"template": {"spec": {"containers": [container]}}}})
    found = messages(rules.no_plain_credentials, deploy)
    assert found == ["kubernetes:apps/v1:Deployment 'app': 'spec.template.spec.containers[0].env[0].value' is the plain "
                     "value of a credential-named entry: take it from a secret (valueFrom.secretKeyRef, or a Pulumi secret)"]
    helm = res("kubernetes:helm.sh/v3:Release", "r", {"values": {"set": [{"key": "auth.rootPassword", "value": "pw-canary"}]}})
    assert messages(rules.no_plain_credentials, helm)
    assert all("canary" not in m for m in found + messages(rules.no_plain_credentials, helm))


@pytest.mark.parametrize("text", [
    '[[outputs.influxdb_v2]]\n  urls = ["http://influxdb:8086"]\n  token = "s3cr3t-canary"\n',
    "[mqtt]\npassword: s3cr3t-canary\n",
    "#!/bin/sh\nexport API_TOKEN=s3cr3t-canary\n",
    "influx auth create --token s3cr3t-canary --org homelab\n",
    "url: postgres://grafana:s3cr3t-canary@db:5432/grafana\n",
])
def test_credentials_written_into_config_or_script_text_are_refused(text):
    """Evasion class: a credential inside config text (a ConfigMap file, a script) rather than an input."""
    cm = res("kubernetes:core/v1:ConfigMap", "cfg", {"data": {"app.conf": text}})
    found = messages(rules.no_plain_credentials, cm)
    assert found == ["kubernetes:core/v1:ConfigMap 'cfg': input 'data.app.conf' writes a credential in clear into "
                     "config or script text: reference it ($VAR, a file, a Secret) and pass the value as a secret"]
    assert "canary" not in found[0]


@pytest.mark.parametrize("text", [
    'token = "${INFLUX_TOKEN}"\n', "password = \"$MQTT_PASSWORD\"\n", "token-file: /etc/rancher/k3s/cluster-token\n",
    "token=$(cat)\n", "lock_passwd: true\n", "secrets-encryption: true\n", "- token=grafana.token\n",
    "influx auth create --token \"$INFLUX_TOKEN\"\n", "password_file /mosquitto/passwd\n",
    "url: http://influxdb:8086\n", "token: {{ .Values.token }}\n",
])
def test_references_to_credentials_in_text_pass(text):
    cm = res("kubernetes:core/v1:ConfigMap", "cfg", {"data": {"app.conf": text}})
    assert not messages(rules.no_plain_credentials, cm)


@pytest.mark.parametrize("type_,extra", [("kubernetes:core/v1:SecretPatch", {}),
                                         ("kubernetes:apiextensions.k8s.io:CustomResource", {"kind": "Secret"})])
def test_kubernetes_secrets_are_judged_by_kind(type_, extra):
    secret = res(type_, "s", {**extra, "stringData": {"mqtt-users": "telegraf:pw"}})
    assert messages(rules.no_plain_credentials, secret) == [
        f"{type_} 's': 'stringData.mqtt-users' is a plain value: Kubernetes Secret content must be a Pulumi secret"]



def test_plain_credential_inputs_are_refused_without_echoing_them():
    linode = res(rules.LINODE_INSTANCE, "edge", {"rootPass": "hunter2-plain", "image": "linode/debian12"})
    found = messages(rules.no_plain_credentials, linode)
    assert found == ["linode:index/instance:Instance 'edge': input 'rootPass' looks like a credential but is a plain "
                     "value: pass it as a secret (pulumi.Output.secret / config --secret)"]
    assert "hunter2" not in found[0]
    command = res(rules.COMMAND_REMOTE, "k3s", {"connection": {"host": "10.0.0.1", "privateKey": "x"},
                                                "environment": {"K3S_TOKEN": "abc"}})
    assert [m.split("input ")[1].split(" ")[0] for m in messages(rules.no_plain_credentials, command)] == [
        "'connection.privateKey'", "'environment.K3S_TOKEN'"]


def test_keys_with_dots_are_judged_whole():
    incus = res(rules.INCUS_INSTANCE, "db", {"config": {"user.db-password": "plain", "cloud-init.user-data": "x"}})
    assert [m.split("input ")[1].split(" ")[0] for m in messages(rules.no_plain_credentials, incus)] == [
        "'config.user.db-password'"]


def test_kubernetes_secret_data_and_private_keys_must_be_secret():
    secret = res(rules.K8S_SECRET, "mqtt", {"stringData": {"users": "telegraf:$7$abc"}, "data": {"x": "[secret]"}})
    assert messages(rules.no_plain_credentials, secret) == [
        "kubernetes:core/v1:Secret 'mqtt': 'stringData.users' is a plain value: Kubernetes Secret content must be "
        "a Pulumi secret"]
    user_data = "#cloud-config\nwrite_files:\n- content: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    b3Bl\n"
    vm = res(rules.PVE_VM, "vm", {"initialization": {"userDataRaw": user_data}})
    assert messages(rules.no_plain_credentials, vm) == [
        "proxmoxve:index/vmLegacy:VmLegacy 'vm': input 'initialization.userDataRaw' contains a private key in plain "
        "text: pass it as a secret"]


def test_secrets_unknowns_and_references_to_credentials_pass():
    props = {
        "rootPass": "[secret]", "token": "[unknown]", "passwordFile": "/mosquitto/passwd", "secretName": "grafana",
        "existingSecret": "grafana-admin", "admin": {"passwordKey": "admin-password", "userKey": "admin-user"},
        "tokenTtl": "24h", "env": [{"name": "GF_SECURITY_ADMIN_PASSWORD",
                                    "valueFrom": {"secretKeyRef": {"name": "grafana", "key": "password"}}}],
        "authorizedKeys": ["ssh-ed25519 AAAA op"], "automountServiceAccountToken": False,
        "data": {"influx-tokens.sh": "#!/bin/sh\ninflux auth create --read-bucket \"$BUCKET\"\n"},
        "annotations": {"checksum/passwords": "9f86d081884c7d65", "homelab/password-digest": "sha256:2c26b46b"},
    }
    assert not messages(rules.no_plain_credentials, res("kubernetes:helm.sh/v3:Release", "grafana", props))
    assert not messages(rules.no_plain_credentials, res(rules.K8S_SECRET, "s", {"stringData": {"a": "[secret]"}}))
    grafana = {"stringData": {"admin-user": "admin", "admin-password": "[secret]"}, "data": {"tls.crt": "LS0t"}}
    assert not messages(rules.no_plain_credentials, res(rules.K8S_SECRET, "grafana-admin", grafana))


# --- environment tag ---------------------------------------------------------------------------


@pytest.mark.parametrize("type_", [rules.PVE_VM, rules.PVE_CT, rules.LINODE_INSTANCE])
def test_machines_without_the_environment_tag_are_refused(type_):
    bad = res(type_, "dns", {"tags": ["dns", "mirkwood"]})
    assert messages(rules.environment_tag, bad) == [
        f"{type_} 'dns' does not carry the environment tag 'lothlorien' in its tags (has: dns, mirkwood)"]
    assert not messages(rules.environment_tag, res(type_, "dns", {"tags": ["dns", "lothlorien"]}))
    assert not messages(rules.environment_tag, res(type_, "dns", {"tags": ["mirkwood"]}, stack="mirkwood"))


def test_incus_instances_carry_the_environment_in_user_config_and_templates_are_exempt():
    incus = res(rules.INCUS_INSTANCE, "mqtt", {"config": {"limits.cpu": "2"}})
    assert messages(rules.environment_tag, incus) == [
        "incus:index/instance:Instance 'mqtt' does not carry the environment tag 'lothlorien' in its config "
        "'user.environment' (has: none)"]
    assert not messages(rules.environment_tag,
                        res(rules.INCUS_INSTANCE, "mqtt", {"config": {"user.environment": "lothlorien"}}))
    assert not messages(rules.environment_tag, catalog_template())


# --- Mosquitto -------------------------------------------------------------------------------------

GOOD_CONF = "per_listener_settings false\nallow_anonymous false\npassword_file /mosquitto/passwd\nlistener 1883\n"


def test_mosquitto_allowing_anonymous_clients_is_refused():
    conf = GOOD_CONF.replace("allow_anonymous false", "allow_anonymous true")
    cm = res("kubernetes:core/v1:ConfigMap", "mosquitto-config", {"data": {"mosquitto.conf": conf}})
    assert messages(rules.mosquitto_no_anonymous, cm) == [
        "kubernetes:core/v1:ConfigMap 'mosquitto-config': Mosquitto config at 'data.mosquitto.conf' turns "
        "allow_anonymous on: every client must authenticate"]


@pytest.mark.parametrize("setting", ["allow_anonymous 1", "  allow_anonymous true", "\tallow_anonymous 1",
                                     "allow_anonymous false\nlistener 8883\nallow_anonymous 1"])
def test_mosquitto_anonymous_in_another_spelling_is_refused(setting):
    """Evasion class: Mosquitto reads `1` as true and skips leading whitespace (src/conf.c,
    conf__parse_bool); a later line overrides an earlier `false`."""
    conf = GOOD_CONF.replace("allow_anonymous false", setting)
    cm = res("kubernetes:core/v1:ConfigMap", "m", {"data": {"mosquitto.conf": conf}})
    assert any("turns allow_anonymous on" in m for m in messages(rules.mosquitto_no_anonymous, cm))


@pytest.mark.parametrize("key", ["allow_anonymous", "allowAnonymous", "AllowAnonymous", "allow-anonymous",
                                 "ALLOW_ANONYMOUS"])
@pytest.mark.parametrize("value", [True, "true", "1", 1, "yes"])
def test_structured_anonymous_settings_in_any_spelling_are_refused(key, value):
    helm = res("kubernetes:helm.sh/v3:Release", "mqtt", {"values": {"auth": {key: value}}})
    assert messages(rules.mosquitto_no_anonymous, helm) == [
        f"kubernetes:helm.sh/v3:Release 'mqtt': 'values.auth.{key}' allows anonymous MQTT clients"]


def test_mosquitto_config_that_includes_other_files_is_refused():
    """Evasion class: a config pulled in by include_dir, which the pack never sees."""
    conf = GOOD_CONF + "include_dir /etc/mosquitto/conf.d\n"
    cm = res("kubernetes:core/v1:ConfigMap", "m", {"data": {"mosquitto.conf": conf}})
    assert messages(rules.mosquitto_no_anonymous, cm) == [
        "kubernetes:core/v1:ConfigMap 'm': Mosquitto config at 'data.mosquitto.conf' pulls in other files with "
        "include_dir, which the policy cannot check: keep the whole config in one file"]


@pytest.mark.system
def test_real_mosquitto_admits_anonymous_clients_with_the_spelling_the_rule_refuses(tmp_path):
    """The spelling `  allow_anonymous 1` is not hypothetical: a real mosquitto 2 accepts an
    unauthenticated publish with it."""
    from tests.tools import require_tool

    broker, publish = require_tool("mosquitto"), require_tool("mosquitto_pub")
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "m.conf"
    conf.write_text(f"listener {port} 127.0.0.1\n  allow_anonymous 1\n")
    process = subprocess.Popen([broker, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        import time
        for _ in range(50):
            done = subprocess.run([publish, "-h", "127.0.0.1", "-p", str(port), "-t", "t", "-m", "m"],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                break
            time.sleep(0.1)
        assert done.returncode == 0, done.stderr
    finally:
        process.kill()
        process.wait(timeout=10)
    cm = res("kubernetes:core/v1:ConfigMap", "m", {"data": {"mosquitto.conf": conf.read_text()}})
    assert any("turns allow_anonymous on" in m for m in messages(rules.mosquitto_no_anonymous, cm))


def test_mosquitto_config_must_say_no_anonymous_explicitly_in_any_carrier():
    conf = GOOD_CONF.replace("allow_anonymous false\n", "")
    user_data = "#cloud-config\nwrite_files:\n- path: /etc/mosquitto/conf.d/homelab.conf\n  content: |\n" + "".join(
        f"    {line}\n" for line in conf.splitlines())
    incus = res(rules.INCUS_INSTANCE, "mqtt", {"config": {"cloud-init.user-data": user_data}})
    assert messages(rules.mosquitto_no_anonymous, incus) == [
        "incus:index/instance:Instance 'mqtt': Mosquitto config at 'config.cloud-init.user-data' does not say "
        "'allow_anonymous false'"]
    helm = res("kubernetes:helm.sh/v3:Release", "mqtt", {"values": {"auth": {"allowAnonymous": True}}})
    assert messages(rules.mosquitto_no_anonymous, helm) == [
        "kubernetes:helm.sh/v3:Release 'mqtt': 'values.auth.allowAnonymous' allows anonymous MQTT clients"]


def test_good_mosquitto_config_and_other_files_pass():
    assert not messages(rules.mosquitto_no_anonymous,
                        res("kubernetes:core/v1:ConfigMap", "m", {"data": {"mosquitto.conf": GOOD_CONF}}))
    assert not messages(rules.mosquitto_no_anonymous,
                        res("kubernetes:core/v1:ConfigMap", "p", {"data": {"prometheus.yml": "global: {}\n"}}))


# --- k3s -------------------------------------------------------------------------------------------


def k3s_cluster(servers: int, agents: int = 2) -> list[Resource]:
    cluster = res("homelab:k3s:Cluster", "prod", {})
    nodes = [cluster]
    for i in range(servers):
        config = "cluster-init: true\n" if i == 0 else "server: https://10.50.0.11:6443\n"
        config += "etcd-s3: true\n"  # production copies etcd snapshots off the cluster (production-backups)
        script = f"install -m 600 /dev/stdin /etc/rancher/k3s/config.yaml <<'EOF'\n{config}tls-san:\n- 10.50.0.10\nEOF\n"
        nodes.append(res(rules.COMMAND_REMOTE, f"prod-server-{i}", {"create": script, "stdin": "[secret]"},
                         parent=cluster.urn))
    for i in range(agents):
        script = "install -m 600 /dev/stdin /etc/rancher/k3s/config.yaml <<'EOF'\nserver: https://10.50.0.10:6443\nEOF\n"
        nodes.append(res(rules.COMMAND_REMOTE, f"prod-agent-{i}", {"create": script}, parent=cluster.urn))
    return nodes


def test_even_k3s_server_count_is_refused():
    found = list(rules.k3s_odd_servers(k3s_cluster(2)))
    assert found == [("urn:pulumi:lothlorien::homelab::homelab:k3s:Cluster::prod",
                      "k3s cluster 'prod' has 2 servers (prod-server-0, prod-server-1): embedded etcd needs an odd "
                      "number (1, 3, 5...)")]
    assert len(list(rules.k3s_odd_servers(k3s_cluster(4, agents=0)))) == 1


@pytest.mark.parametrize("servers", [1, 3, 5])
def test_odd_k3s_server_counts_pass_and_agents_do_not_count(servers):
    assert not list(rules.k3s_odd_servers(k3s_cluster(servers, agents=3)))


# --- pinned catalog images ---------------------------------------------------------------------------


def download(**overrides) -> Resource:
    d = distro()
    props = {"url": d.image_url, "fileName": d.image_file_name, "contentType": "import", "nodeName": "lorien",
             "checksum": d.checksum, "checksumAlgorithm": d.checksum_algorithm}
    props.update(overrides)
    return res(rules.PVE_DOWNLOAD, "rocky9-image", {k: v for k, v in props.items() if v is not None})


def test_downloads_outside_the_catalog_are_refused():
    assert not messages(rules.pinned_images, download())
    url = "https://example.org/images/some-random.qcow2"
    assert messages(rules.pinned_images, download(url=url)) == [
        f"proxmoxve:download/file:File 'rocky9-image' downloads {url}, which is not an image of the distribution "
        f"catalog (components/catalog.py)"]


def test_downloads_without_the_catalogs_checksum_are_refused():
    pinned = [d for d in rules.catalog().values() if d.checksum]
    assert pinned, "the catalog pins every image by checksum (components/catalog.py)"
    d = pinned[0]
    bad = res(rules.PVE_DOWNLOAD, "img", {"url": d.image_url, "fileName": d.image_file_name,
                                          "checksum": "0" * len(d.checksum), "checksumAlgorithm": d.checksum_algorithm})
    assert messages(rules.pinned_images, bad) == [
        f"proxmoxve:download/file:File 'img' downloads {d.image_url} without the catalog's pinned "
        f"{d.checksum_algorithm} checksum"]


def test_templates_import_catalog_images_and_instances_use_catalog_images():
    d = distro()
    good = res(rules.PVE_VM, "t", {"template": True, "disks": [{"importFrom": f"local:import/{d.image_file_name}"}]})
    bad = res(rules.PVE_VM, "t", {"template": True, "disks": [{"importFrom": "local:import/hand-made.qcow2"}]})
    assert not messages(rules.pinned_images, good)
    assert messages(rules.pinned_images, bad) == [
        "proxmoxve:index/vmLegacy:VmLegacy 't': disk 0 importFrom 'local:import/hand-made.qcow2' is not a "
        "catalog image"]
    assert not messages(rules.pinned_images, res(rules.PVE_VM, "t", {"template": True, "disks": [{"importFrom": "[unknown]"}]}))
    linode = res(rules.LINODE_INSTANCE, "edge", {"image": "linode/ubuntu18.04"})
    assert messages(rules.pinned_images, linode)[0].startswith(
        "linode:index/instance:Instance 'edge': image 'linode/ubuntu18.04' is not a catalog image")
    allowed = sorted(x.linode_image for x in rules.catalog().values() if x.linode_image)
    assert not messages(rules.pinned_images, res(rules.LINODE_INSTANCE, "edge", {"image": allowed[0]}))


def test_clones_come_from_the_stacks_catalog_templates():
    d = distro()
    template = catalog_template(vmId=d.default_vmid)
    clone = res(rules.PVE_VM, "web", {"clone": {"vmId": d.default_vmid, "full": True}})
    stray = res(rules.PVE_VM, "odd", {"clone": {"vmId": 4242, "full": True}})
    assert not list(rules.clones_from_templates([template, clone]))
    assert list(rules.clones_from_templates([template, clone, stray])) == [
        (stray.urn, f"proxmoxve:index/vmLegacy:VmLegacy 'odd' clones VMID 4242, which is not a catalog template of "
                    f"this stack ({d.default_vmid})")]


# --- advisory ----------------------------------------------------------------------------------------


def test_advisory_rules_flag_missing_descriptions_and_guest_agents():
    vm = res(rules.PVE_VM, "vm", {"agent": {"enabled": False}})
    assert messages(rules.has_description, vm) == ["proxmoxve:index/vmLegacy:VmLegacy 'vm' has no description"]
    assert messages(rules.guest_agent, vm) == [
        "proxmoxve:index/vmLegacy:VmLegacy 'vm' does not enable the QEMU guest agent (agent.enabled)"]
    good = res(rules.PVE_VM, "vm", {"agent": {"enabled": True}, "description": "k3s server"})
    assert not messages(rules.has_description, good) and not messages(rules.guest_agent, good)
    network = "incus:index/network:Network"
    assert messages(rules.has_description, res(network, "net", {})) == [f"{network} 'net' has no description"]
    assert not messages(rules.has_description, res(network, "net-n1", {"target": "cluster01-n1"}))
    levels = {r.name: r.enforcement for r in (*rules.RESOURCE_RULES, *rules.STACK_RULES)}
    assert {name for name, level in levels.items() if level == "advisory"} == {"description-present", "vm-guest-agent"}


# --- the real environments ------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_real_environments_pass_every_mandatory_policy(env, synth_result):
    run = synth_result(env)
    violations = offline.evaluate_with_rules(offline.load(run.out / "resources.json"))
    mandatory = [v.line() for v in violations if v.enforcement == "mandatory"]
    assert mandatory == [], "\n".join(mandatory)


# --- the offline runner and the pack ------------------------------------------------------------------------


def bad_fixture(tmp_path: Path) -> Path:
    """The good fixture with one deliberate violation of each mandatory policy."""
    records = json.loads(FIXTURE.read_text())
    by_name = {r["name"]: r for r in records}
    by_name["dns-ct"]["options"]["protect"] = False                       # production-stateful-protected
    by_name["edge"]["inputs"]["rootPass"] = "plain-root-pass"             # no-plain-credentials
    by_name["edge"]["inputs"]["tags"] = ["edge"]                          # environment-tag
    by_name["mosquitto-config"]["inputs"]["data"]["mosquitto.conf"] = GOOD_CONF.replace("false\npass", "true\npass")
    by_name["edge"]["inputs"]["image"] = "linode/arch"                    # pinned-catalog-images
    records.remove(by_name["k3s-server-2"])                               # k3s-odd-servers
    records.remove(by_name["backup-job"])                                 # production-backups
    path = tmp_path / "resources.json"
    path.write_text(json.dumps(records))
    return path


MANDATORY = {"production-stateful-protected", "no-plain-credentials", "environment-tag", "mosquitto-no-anonymous",
             "pinned-catalog-images", "k3s-odd-servers", "production-backups"}


def test_offline_runner_passes_the_good_fixture_and_fails_on_each_violation(tmp_path):
    good = subprocess.run([sys.executable, "-m", "policy.offline", str(FIXTURE)], cwd=ROOT, capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert "13 resources, 0 mandatory violations" in good.stdout
    bad = subprocess.run([sys.executable, "-m", "policy.offline", str(bad_fixture(tmp_path))], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 1
    fired = {line.split("] ", 1)[1].split(":", 1)[0] for line in bad.stderr.splitlines() if "[mandatory]" in line}
    assert fired == MANDATORY
    assert "[mandatory] k3s-odd-servers: k3s cluster 'k3s' has 2 servers (k3s-server-0, k3s-server-1)" in bad.stderr
    assert "plain-root-pass" not in bad.stdout + bad.stderr


def test_offline_runner_says_when_the_synth_output_is_missing(tmp_path):
    done = subprocess.run([sys.executable, "-m", "policy.offline", "--build", str(tmp_path), "--env", "mirkwood"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert "resources.json: missing; run `make synth ENV=<env>` first" in done.stderr


def policy_python() -> Path:
    if not POLICY_PYTHON.exists():
        reason = ".venv-policy is missing (`make policy-venv`)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the pack as the Pulumi CLI loads it")
        pytest.skip(reason)
    return POLICY_PYTHON


def test_pack_objects_report_what_the_rule_functions_report(tmp_path):
    python = policy_python()
    path = bad_fixture(tmp_path)
    done = subprocess.run([str(python), "-m", "policy.offline", str(path)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert "rule functions evaluated directly" not in done.stdout  # pulumi_policy's objects ran
    expected = offline.evaluate_with_rules(offline.load(path))
    assert sorted(line.strip() for line in done.stderr.splitlines() if "[mandatory]" in line) == sorted(
        v.line() for v in expected if v.enforcement == "mandatory")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pack_passes_the_real_environments_as_make_policy_runs_it(env, synth_result):
    path = synth_result(env).out / "resources.json"
    done = subprocess.run([str(policy_python()), "-m", "policy.offline", str(path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "0 mandatory violations" in done.stdout


def secret(value):
    return {SIG: SECRET_SIG, "value": value}


def probe(resources: list[dict], mask: bool = True) -> list[dict]:
    done = subprocess.run([str(policy_python()), str(ROOT / "tests" / "policy_probe.py")], cwd=ROOT,
                          input=json.dumps({"resources": resources, "mask": mask}), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_pack_as_the_engine_calls_it_keeps_secrets_masked_and_reports_violations():
    edge = {"type": rules.LINODE_INSTANCE, "name": "edge", "urn": "urn:pulumi:lothlorien::homelab::linode:index/instance:Instance::edge",
            "properties": {"image": "linode/debian12", "tags": ["lothlorien"], "rootPass": secret("hunter2-canary"),
                           "authorizedKeys": ["04da6b54-80e4-46f7-96ec-b56ff0331ba9"]},  # unknown during preview
            "protect": True}
    assert probe([edge]) == []
    # The SDK alone would stop every policy on one unknown input during preview...
    unmasked = probe([edge], mask=False)
    assert {d["policy"] for d in unmasked} == {r.name for r in (*rules.RESOURCE_RULES, *rules.STACK_RULES)}
    assert all("can't be known during preview" in d["message"] and d["level"] == "advisory" for d in unmasked)
    # ...and hand the secret over unmarked, so that it would look like a plain credential.
    known = copy.deepcopy(edge)
    known["properties"]["authorizedKeys"] = ["ssh-ed25519 AAAA op"]
    assert probe([known]) == []
    assert [(d["policy"], d["level"]) for d in probe([known], mask=False)] == [("no-plain-credentials", "mandatory")]
    plain = copy.deepcopy(edge)
    plain["properties"]["rootPass"] = "hunter2-canary"
    plain["protect"] = False
    found = probe([plain])
    assert sorted((d["policy"], d["level"]) for d in found) == [
        ("no-plain-credentials", "mandatory"), ("production-stateful-protected", "mandatory")]
    assert all("hunter2-canary" not in d["message"] for d in found)


def test_pack_stack_policies_see_the_whole_stack():
    resources = [{"type": r.type, "name": r.name, "urn": r.urn, "properties": dict(r.props), "parent": r.parent}
                 for r in k3s_cluster(2)]
    found = probe(resources)
    assert [(d["policy"], d["urn"]) for d in found] == [
        ("k3s-odd-servers", "urn:pulumi:lothlorien::homelab::homelab:k3s:Cluster::prod")]


def test_policy_pack_entry_point_serves_the_analyzer():
    """The pack as the Pulumi CLI starts it (`python -m pulumi.policy <engine> <pack dir>` in the pack's
    virtualenv): it prints the port of its gRPC analyzer server."""
    process = subprocess.Popen([str(policy_python()), "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(ROOT / "policy")],
                               cwd=ROOT / "policy",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit() and int(port) > 0, process.stderr.read() if process.poll() is not None else port
    finally:
        process.kill()
        process.wait(timeout=10)


def test_incus_system_images_come_from_the_catalog_and_oci_images_are_pinned():
    allowed = sorted(x.incus_image for x in rules.catalog().values() if x.incus_image)
    check = lambda image: messages(rules.pinned_images, res(rules.INCUS_INSTANCE, "c", {"image": image}))  # noqa: E731
    assert not check(allowed[0])
    assert check("images:alpine/edge") == [
        f"incus:index/instance:Instance 'c': image 'images:alpine/edge' is not a catalog image ({', '.join(allowed)})"]
    assert not check("ghcr:runatlantis/atlantis:v0.35.0")
    assert not check("docker:eclipse-mosquitto@sha256:" + "a" * 64)
    assert check("ghcr:runatlantis/atlantis:latest") == [
        "incus:index/instance:Instance 'c': OCI image 'ghcr:runatlantis/atlantis:latest' is not pinned to a version "
        "tag or digest"]
    assert check("ghcr:runatlantis/atlantis")


ALL_TYPES = sorted(rules.STATEFUL_TYPES | rules.DESCRIBED_TYPES | {rules.PVE_DOWNLOAD, rules.K8S_SECRET,
                                                                   rules.COMMAND_REMOTE, "homelab:k3s:Cluster"})


@pytest.mark.parametrize("filler", [rules.SECRET, rules.UNKNOWN, None, 7, ["x"], {"x": 1}])
def test_rules_survive_masked_unknown_and_odd_values(filler):
    keys = ("stringData", "data", "config", "disks", "operatingSystem", "tags", "clone", "agent", "template", "url",
            "image", "vmId", "checksum", "fileName", "create", "description", "rootPass")
    resources = [res(type_, f"r{i}", dict.fromkeys(keys, filler)) for i, type_ in enumerate(ALL_TYPES)]
    violations = rules.evaluate(resources)  # must not raise
    assert all(str(filler) not in v.message or filler in (None, 7) for v in violations if v.policy == "no-plain-credentials")


MIDDLEWARE = "kubernetes:traefik.io/v1alpha1:Middleware"


def test_a_secret_name_where_the_schema_names_a_secret_passes_and_nothing_else_does():
    """Traefik's basicAuth.secret holds the name of a Secret (the CRD says so): a Kubernetes name
    there passes; a value that is no Kubernetes name, or the same key on another type, does not."""
    def middleware(value, type_=MIDDLEWARE):
        return res(type_, "login", {"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
                                    "spec": {"basicAuth": {"secret": value}}})

    assert not messages(rules.no_plain_credentials, middleware("prometheus-basic-auth"))
    for bad in ("S3cr3t-canary!", "homelab:$2a$10$abc"):
        found = messages(rules.no_plain_credentials, middleware(bad))
        assert found and "spec.basicAuth.secret" in found[0] and "canary" not in found[0]
    other = messages(rules.no_plain_credentials, middleware("prometheus-basic-auth", "kubernetes:example.io/v1:Thing"))
    assert other and "spec.basicAuth.secret" in other[0]
