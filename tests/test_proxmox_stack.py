"""The proxmox layer in both environments, as the synth of the real program registers it."""

from __future__ import annotations

import json
import subprocess
import sys

import pulumi

import pytest
import yaml

from cloudinit.render import CLOUD_INIT_WAIT
from stacks.config import proxmox as pxcfg
from synth import conformance
from synth.engine import synth_config
from stacks.config import loader
from stacks import proxmox as proxmox_layer
from stacks.secrets import Secrets
from tests.conftest import ENVIRONMENTS, RECORDED
from tests.helpers import named, some
from tests.tools import require_tool

VM = "proxmoxve:index/vmLegacy:VmLegacy"
CT = "proxmoxve:index/containerLegacy:ContainerLegacy"
DOWNLOAD = "proxmoxve:download/file:File"
SNIPPET = "proxmoxve:index/fileLegacy:FileLegacy"
PROVIDER = "pulumi:providers:proxmoxve"
MASK = "[secret]"


def _cfg(env: str):
    entries, secret_keys, _ = synth_config(env)
    return loader.validate(entries, stack=env, secret_keys=secret_keys)


def _proxmox(run) -> list[dict]:
    return [r for r in run.resources if r["type"].startswith(("proxmoxve:", "pulumi:providers:proxmoxve"))]


def _clones(run, cfg) -> list[dict]:
    """The VMs cloned from a template: exactly the configured ones."""
    return named((r for r in run.of_type(VM) if not r["inputs"].get("template")), (vm.name for vm in cfg.vms),
                 "VM clones", key=lambda r: r["inputs"]["name"])


def _containers(run, cfg) -> list[dict]:
    return named(run.of_type(CT), (c.name for c in cfg.containers), "LXC containers",
                 key=lambda r: r["inputs"]["initialization"]["hostname"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_synth_shows_templates_vms_and_containers(env, synth_result):
    run, cfg = synth_result(env), _cfg(env).proxmox
    vms = run.of_type(VM)
    templates = sorted((r["inputs"]["nodeName"], r["inputs"]["vmId"]) for r in vms if r["inputs"].get("template"))
    clones = sorted(r["inputs"]["name"] for r in vms if not r["inputs"].get("template"))
    assert templates == sorted((t.node, t.vm_id) for t in cfg.templates)
    assert {r["inputs"]["name"] for r in vms if r["inputs"].get("template")} == {
        "rocky9-template", "rocky10-template", "debian12-template"}
    assert clones == sorted(vm.name for vm in cfg.vms)
    assert sorted(r["inputs"]["initialization"]["hostname"] for r in run.of_type(CT)) == sorted(
        c.name for c in cfg.containers)
    assert len([n for n in clones if "-k3s-s" in n]) == (1 if env == "mirkwood" else 3)
    assert len([n for n in clones if "-k3s-a" in n]) == (2 if env == "mirkwood" else 3)
    assert run.of_type(CT), "each environment has at least one LXC container"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_clone_has_its_template_where_it_is_cloned_from(env, synth_result):
    run, cfg = synth_result(env), _cfg(env).proxmox
    vms = run.of_type(VM)
    templates = {(r["inputs"]["nodeName"], r["inputs"]["vmId"]): r for r in vms if r["inputs"].get("template")}
    for clone in _clones(run, cfg):
        source = (clone["inputs"]["clone"]["nodeName"], clone["inputs"]["clone"]["vmId"])
        assert source in templates, f"{clone['name']} clones {source}, which is not a template"
        assert clone["inputs"]["clone"]["full"] is True
        assert templates[source]["urn"] in clone["dependencies"]
        if not cfg.storage.shared:
            assert clone["inputs"]["nodeName"] == source[0]


def test_lothlorien_spreads_agents_and_pins_servers(synth_result):
    run, cfg = synth_result("lothlorien"), _cfg("lothlorien").proxmox
    placed = {r["inputs"]["name"]: r["inputs"]["nodeName"] for r in run.of_type(VM) if not r["inputs"].get("template")}
    assert [placed[f"lothlorien-k3s-s{i}"] for i in (1, 2, 3)] == ["manwe", "varda", "ulmo"]
    for vm in cfg.vms:
        assert placed[vm.name] == (vm.node or pxcfg.spread(vm.name, cfg.node_names))
    assert cfg.storage.shared and len({t.node for t in cfg.templates}) == 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_guests_on_the_environments_vlan_with_the_bridge_mtu(env, synth_result):
    run, cfg = synth_result(env), _cfg(env)
    vlan = cfg.environment.network.vlan
    for res in some(run.of_type(VM), "VMs"):
        assert res["inputs"]["networkDevices"] == [{"bridge": cfg.proxmox.bridge.name, "model": "virtio",
                                                     "mtu": cfg.proxmox.bridge.mtu, "vlanId": vlan}]
    for res in _containers(run, cfg.proxmox):
        assert res["inputs"]["networkInterfaces"][0]["vlanId"] == vlan
    assert {"mirkwood": 40, "lothlorien": 50}[env] == vlan


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_production_guests_are_protected_and_staging_ones_shut_down_cleanly(env, synth_result):
    run, cfg = synth_result(env), _cfg(env).proxmox
    production = env == "lothlorien"
    clones = _clones(run, cfg)
    for res in clones + _containers(run, cfg):
        assert res["options"]["protect"] is production, res["name"]
        assert res["inputs"]["protection"] is production, res["name"]
    for res in clones:
        assert res["inputs"]["stopOnDestroy"] is False  # shutdown, not stop
        assert res["inputs"]["timeoutShutdownVm"] == 300


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_provider_credentials_are_secret_in_the_synth(env, synth_result):
    run, cfg = synth_result(env), _cfg(env).proxmox
    [provider] = run.of_type(PROVIDER)
    # the ssh block holds the private key: the engine keeps the whole block secret
    assert provider["inputs"] == {"apiToken": MASK, "endpoint": cfg.endpoint, "insecure": "false", "ssh": MASK}
    _clones(run, cfg), _containers(run, cfg)  # the guests are among what is checked
    for res in _proxmox(run):
        if res["type"] != PROVIDER:
            assert res["provider"] == provider["urn"], res["name"]


@pulumi.runtime.test
def test_provider_ssh_block_names_every_node_and_takes_the_key_from_secrets():
    pulumi.runtime.set_config("homelab:proxmoxApiToken", "root@pam!homelab=CANARY-token")
    pulumi.runtime.set_config("homelab:sshPrivateKey", "CANARY-private-key")
    cfg = _cfg("lothlorien")
    provider = proxmox_layer.provider(cfg, Secrets())

    def check(urn):
        [masked] = [r for r in RECORDED.resources if r["urn"] == urn]
        assert masked["inputs"]["apiToken"] == MASK and masked["inputs"]["ssh"] == MASK
        revealed = RECORDED.revealed[urn]
        ssh = json.loads(revealed["ssh"])
        assert revealed["apiToken"] == "root@pam!homelab=CANARY-token"
        assert ssh == {"username": "root", "privateKey": "CANARY-private-key",
                       "nodes": [{"name": n.name, "address": n.address} for n in cfg.proxmox.nodes]}

    return provider.urn.apply(check)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_inventory_registers_every_guest_with_its_groups(env, synth_result):
    run, cfg = synth_result(env), _cfg(env)
    inventory = {h["name"]: h for h in run.outputs["inventory"] if h["platform"].startswith("proxmox-")}
    expected = {vm.name: ("proxmox-vm", vm.ipv4, list(vm.groups)) for vm in cfg.proxmox.vms}
    expected |= {ct.name: ("proxmox-lxc", ct.ipv4, list(ct.groups)) for ct in cfg.proxmox.containers}
    assert {n: (h["platform"], h["addresses"]["primary"], h["groups"]) for n, h in inventory.items()} == expected
    assert inventory[f"{env}-k3s-s1"]["fqdn"] == f"{env}-k3s-s1.{cfg.environment.domain}"
    assert "k3s_server" in inventory[f"{env}-k3s-s1"]["groups"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_user_data_is_shared_and_holds_no_host_data(env, synth_result):
    run, cfg = synth_result(env), _cfg(env)
    clones = _clones(run, cfg.proxmox)
    by_node = {}
    for res in clones:
        by_node.setdefault(res["inputs"]["nodeName"], set()).add(res["inputs"]["initialization"]["userDataFileId"])
    assert all(len(ids) == 1 for ids in by_node.values()), by_node  # one rocky9 snippet per node
    user_data = {p: t for p, t in run.artifacts.items() if p.endswith("-user-data.yaml")}
    assert user_data
    for path, text in user_data.items():
        assert text.startswith("#cloud-config\n")
        for vm in cfg.proxmox.vms:
            assert vm.name not in text and (vm.ipv4 == "dhcp" or vm.ipv4 not in text), path
        doc = yaml.safe_load(text)
        assert doc["ssh_pwauth"] is False and doc["disable_root"] is True
        assert doc["users"][0]["name"] == cfg.environment.operator.name
        assert "qemu-guest-agent" in doc["packages"]
        assert doc["manage_etc_hosts"] == "localhost" and "hostname" not in doc
        # VMs in k3s groups get the k3s prerequisites from a snippet of their own role set.
        role_files = {f["path"] for f in doc.get("write_files", [])}
        assert ("/etc/modules-load.d/k3s.conf" in role_files) == ("-k3s-user-data" in path), path
    meta = {p: yaml.safe_load(t) for p, t in run.artifacts.items() if p.endswith("-meta-data.yaml")}
    assert sorted(m["local-hostname"] for m in meta.values()) == sorted(
        cfg.environment.fqdn(vm.name) for vm in cfg.proxmox.vms)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_images_are_pinned_and_checksummed(env, synth_result):
    run = synth_result(env)
    downloads = run.of_type(DOWNLOAD)
    assert {r["inputs"]["contentType"] for r in downloads} == {"import", "vztmpl"}
    for res in downloads:
        inputs = res["inputs"]
        assert "latest" not in inputs["url"]
        assert inputs["url"].endswith(inputs["fileName"])
        assert len(inputs["checksum"]) == {"sha256": 64, "sha512": 128}[inputs["checksumAlgorithm"]]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_proxmox_resources_conform_to_the_sdk(env, synth_result):
    problems = [p for p in conformance.check(_proxmox(synth_result(env))) if "__self__" not in p]
    assert problems == []


@pytest.mark.system
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_rendered_user_data_passes_cloud_init_schema(env, synth_result, tmp_path):
    cloud_init = require_tool("cloud-init")
    user_data = {p: t for p, t in synth_result(env).artifacts.items() if p.startswith("proxmox/") and "user-data" in p}
    assert user_data
    for path, text in sorted(user_data.items()):
        target = tmp_path / path.replace("/", "_")
        target.write_text(text)
        done = subprocess.run([cloud_init, "schema", "-c", str(target)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{path}: {done.stdout}{done.stderr}"
        assert "Valid cloud-config" in done.stdout


@pulumi.runtime.test
def test_local_storage_clones_from_the_template_on_their_own_node_and_registers_hosts():
    """Two nodes without shared storage: a template per node, user-data snippets where VMs run."""
    from stacks.hosts import HostRegistry
    from tests.test_proxmox_config import SECRETS, _entries

    for key, value in SECRETS.items():
        pulumi.runtime.set_config(key, value)
    entries = _entries()
    entries["homelab:environment"]["name"] = "mirkwood"
    proxmox = entries["homelab:proxmox"]
    proxmox["vms"] = [
        {"name": "local-a", "vm_id": 7301, "template": "rocky9", "node": "iluvatar", "ipv4": "10.40.0.61"},
        {"name": "local-b", "vm_id": 7302, "template": "rocky9", "node": "yavanna", "ipv4": "10.40.0.62",
         "groups": ["k3s", "k3s_agent"]},
    ]
    proxmox["containers"] = [{"name": "local-ct", "vm_id": 7303, "node": "yavanna", "ipv4": "10.40.0.63"}]
    proxmox["templates"] = [{"distribution": "rocky9", "name": "rocky9"},
                            {"distribution": "rocky9", "node": "yavanna", "vm_id": 7002}]
    cfg = loader.validate(entries, stack="mirkwood", secret_keys=set(SECRETS))
    hosts = HostRegistry()
    proxmox_layer.deploy(cfg, Secrets(), hosts)
    b = hosts.get("local-b")

    def check(_):
        def one(name):
            [res] = [r for r in RECORDED.resources if r["name"] == name]
            return res
        assert one("local-a-vm")["inputs"]["clone"] == {"vmId": 7000, "nodeName": "iluvatar", "datastoreId": "local-lvm",
                                                        "full": True}
        assert one("local-b-vm")["inputs"]["clone"] == {"vmId": 7002, "nodeName": "yavanna", "datastoreId": "local-lvm",
                                                        "full": True}
        assert one("rocky9-yavanna-template")["inputs"]["nodeName"] == "yavanna"
        assert one("user-data-rocky9-iluvatar-file")["inputs"]["nodeName"] == "iluvatar"
        assert one("user-data-rocky9-k3s-yavanna-file")["inputs"]["nodeName"] == "yavanna"
        assert one("lxc-debian12-yavanna-file")["inputs"]["contentType"] == "vztmpl"
        assert [h.name for h in hosts.all()] == ["local-a", "local-b", "local-ct"]
        assert (b.platform, b.address, b.ssh_user, b.groups, b.fqdn) == (
            "proxmox-vm", "10.40.0.62", "lavender", ("k3s", "k3s_agent"), "local-b.mirkwood.lan")
        # Ready means cloud-init has finished on the VM, not only that it booted.
        # cloud-init has finished, then provision.sh has run (again on every change: day 2)
        assert [type(r).__name__ for r in b.ready] == ["Command", "Command"]
        ready = one("local-b-ready")
        assert ready["inputs"]["create"] == CLOUD_INIT_WAIT
        assert one("local-b-vm")["urn"] in ready["dependencies"]
        ct = hosts.get("local-ct")
        assert (ct.platform, ct.ssh_user, [type(r).__name__ for r in ct.ready]) == (
            "proxmox-lxc", "root", ["ContainerLegacy", "Command"])

    return pulumi.Output.all(*(r.urn for h in hosts.all() for r in h.ready)).apply(check)


def test_editing_one_vm_leaves_the_shared_user_data_and_the_other_vms_alone(synth_result, tmp_path):
    """What `pulumi up` would see after one host's edit: only that host's inputs change."""
    from tests.conftest import ROOT

    document = yaml.safe_load((ROOT / "Pulumi.mirkwood.yaml").read_text())
    edited = document["config"]["homelab:proxmox"]["vms"][1]
    assert edited["name"] == "mirkwood-k3s-a1"
    edited.update(cores=edited["cores"] + 2, ipv4="10.40.0.41")
    stack_dir = tmp_path / "stacks"
    stack_dir.mkdir()
    (stack_dir / "Pulumi.mirkwood.yaml").write_text(yaml.safe_dump(document))
    done = subprocess.run([sys.executable, "-m", "synth", "--env", "mirkwood", "--out", str(tmp_path / "build"),
                           "--stack-dir", str(stack_dir)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    after = {r["urn"]: r for r in json.loads((tmp_path / "build" / "mirkwood" / "resources.json").read_text())}
    before = {r["urn"]: r for r in synth_result("mirkwood").resources}
    assert set(after) == set(before)
    changed = sorted(after[urn]["name"] for urn in after
                     if after[urn]["type"].startswith("proxmoxve:") and after[urn]["inputs"] != before[urn]["inputs"])
    # The meta-data's instance-id follows the address, so the new address reaches the guest.
    assert changed == ["mirkwood-k3s-a1-meta-data-file", "mirkwood-k3s-a1-vm"]
    artifacts = "homelab-mirkwood-rocky9-k3s-user-data.yaml"
    assert (tmp_path / "build" / "mirkwood" / "artifacts" / "proxmox" / artifacts).read_text() == \
        synth_result("mirkwood").artifacts[f"proxmox/{artifacts}"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_node_a_vm_can_run_on_holds_its_snippets(env, synth_result):
    # Snippets live on per-node storage (`local`); Proxmox rebuilds a VM's cloud-init drive from them
    # when the VM starts, also after a migration or an HA restart on another node (shared disks).
    run, cfg = synth_result(env), _cfg(env).proxmox
    on_node = {(r["inputs"]["nodeName"], r["inputs"]["sourceRaw"]["fileName"]) for r in run.of_type(SNIPPET)}
    for res in _clones(run, cfg):
        vm = next(v for v in cfg.vms if v.name == res["inputs"]["name"])
        nodes = cfg.template_nodes(vm.template) if cfg.storage.shared else (res["inputs"]["nodeName"],)
        files = {res["inputs"]["initialization"][key].split("snippets/", 1)[1]
                 for key in ("userDataFileId", "metaDataFileId")}
        missing = sorted((node, f) for node in nodes for f in files if (node, f) not in on_node)
        assert missing == [], f"{vm.name}: {missing}"
    if env == "lothlorien":
        assert cfg.storage.shared and len(cfg.node_names) == 3


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_downloads_ignore_a_new_url_for_the_same_pinned_file(env, synth_result):
    # bpg download_file: `url` RequiresReplace; the file is pinned by name and checksum (both
    # still replace), so only the source may move (e.g. to the Rocky vault) without a rebuild.
    downloads = synth_result(env).of_type(DOWNLOAD)
    assert downloads
    for res in downloads:
        assert res["options"]["ignore_changes"] == ["url"], res["name"]
