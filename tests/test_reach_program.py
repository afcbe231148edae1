"""The whole program with every option of issue #20 opted in: Debian 13 and Ubuntu 24.04 on each
platform, k3s options, placement per guest and packages per group. A copy of mirkwood's stack file
with those keys added, rendered by `python -m synth --stack-dir` as a user would; the committed
environments do not opt in (their synth is unchanged, tests/test_k3s_options.py checks the scripts).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.catalog import CATALOG
from stacks.config import loader
from tests.conftest import ROOT

CANARY_DB = "CANARY-db-password-31f6"
CANARY_REGISTRY = "CANARY-registry-password-9b2e"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def reach_stack() -> dict:
    doc = yaml.safe_load((ROOT / "Pulumi.mirkwood.yaml").read_text())
    config = doc["config"]
    config["homelab:environment"]["packages"] = {
        "k3s_server": ["jq"], "web": {"debian": ["nginx-light"], "rhel": ["nginx"]}}
    px = config["homelab:proxmox"]
    px["templates"] += [{"distribution": "debian13"}, {"distribution": "ubuntu2404"}]
    px["vms"].append({"name": "mirkwood-k3s-s2", "vm_id": 7102, "template": "debian13", "ipv4": "10.40.0.22",
                      "datastore": "fast-nvme", "bridge": "vmbr1", "groups": ["k3s", "k3s_server"]})
    px["containers"].append({"name": "mirkwood-proxy", "vm_id": 7202, "distribution": "ubuntu2404",
                             "ipv4": "10.40.0.11", "datastore": "fast-nvme", "groups": ["web"]})
    config["homelab:linode"]["instances"].append(
        {"name": "estel", "region": "us-central", "type": "g6-nanode-1", "distribution": "debian13",
         "provision": "ssh", "groups": ["web"]})
    # The state moves to an external datastore: etcd snapshots (backups.k3s) have nothing to snapshot.
    config.get("homelab:backups", {}).pop("k3s", None)
    cluster = config["homelab:k3s"]["clusters"][0]
    cluster["servers"] = ["mirkwood-k3s-s1", "mirkwood-k3s-s2"]  # two: valid with an external datastore
    cluster.update({
        "server_args": ["--kube-apiserver-arg=audit-log-maxage=30", "--etcd-expose-metrics"],
        "agent_args": ["--kubelet-arg=max-pods=150"],
        "flannel_backend": "wireguard-native",
        "flannel_iface": "ens18",
        "node_flannel_iface": {"merry": "eth0"},
        "datastore": {"type": "postgres", "host": "db.mirkwood.lan", "params": {"sslmode": "require"}},
        "registry": {"mirrors": {"docker.io": ["https://registry.mirkwood.lan:5000"]},
                     "logins": {"lan": {"host": "registry.mirkwood.lan:5000", "username": "k3s"}}},
        "airgap": {"url": "https://mirror.mirkwood.lan/k3s/v1.31.4+k3s1", "installer_sha256": _sha("install.sh"),
                   "binaries": {"amd64": _sha("k3s"), "arm64": _sha("k3s-arm64")},
                   "images": {"amd64": _sha("images-amd64")}},
    })
    return doc


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    base = tmp_path_factory.mktemp("reach")
    (base / "stacks").mkdir()
    (base / "stacks" / "Pulumi.mirkwood.yaml").write_text(yaml.safe_dump(reach_stack(), sort_keys=False))
    secrets = base / "secrets.json"
    secrets.write_text(json.dumps({"k3sDatastorePassword": CANARY_DB, "k3sRegistryPassword-lan": CANARY_REGISTRY}))
    done = subprocess.run([sys.executable, "-m", "synth", "--env", "mirkwood", "--out", str(base / "build"),
                           "--stack-dir", str(base / "stacks"), "--secrets-file", str(secrets), "--placeholders"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    return done, base / "build" / "mirkwood"


def _resources(out: Path) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads((out / "resources.json").read_text())}


def test_the_opted_in_environment_synthesises_with_provider_conformance_and_no_leak(run):
    done, out = run
    assert done.returncode == 0, done.stderr + done.stdout
    assert "provider conformance: ok" in done.stdout and "secrets: none unmasked" in done.stdout
    for path in (p for p in out.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        assert CANARY_DB not in text and CANARY_REGISTRY not in text, path


def test_new_distributions_reach_templates_lxc_and_linode_pinned_by_the_catalog(run):
    _, out = run
    res = _resources(out)
    for key in ("debian13", "ubuntu2404"):
        image = CATALOG[key].image
        download = res[f"{key}-iluvatar-image"]["inputs"]
        assert (download["url"], download["fileName"], download["checksum"], download["checksumAlgorithm"]) == (
            image.url, image.file_name, image.checksum, image.checksum_algorithm)
        assert download["contentType"] == "import"
    lxc = res["lxc-ubuntu2404-iluvatar-file"]["inputs"]
    assert (lxc["url"], lxc["checksum"]) == (CATALOG["ubuntu2404"].lxc_template.url,
                                             CATALOG["ubuntu2404"].lxc_template.checksum)
    assert res["mirkwood-proxy-ct"]["inputs"]["operatingSystem"]["type"] == "ubuntu"
    assert res["estel-instance"]["inputs"]["image"] == "linode/debian13"


def test_placement_per_guest_reaches_disks_and_nics(run):
    _, out = run
    res = _resources(out)
    vm = res["mirkwood-k3s-s2-vm"]["inputs"]
    assert {d["datastoreId"] for d in vm["disks"]} == {"fast-nvme"}
    assert vm["clone"]["datastoreId"] == "fast-nvme"
    assert [nic["bridge"] for nic in vm["networkDevices"]] == ["vmbr1"]
    assert res["mirkwood-proxy-ct"]["inputs"]["disk"]["datastoreId"] == "fast-nvme"
    # the others stay where the section puts them
    assert {d["datastoreId"] for d in res["mirkwood-k3s-s1-vm"]["inputs"]["disks"]} == {"local-lvm"}
    assert [nic["bridge"] for nic in res["mirkwood-k3s-s1-vm"]["inputs"]["networkDevices"]] == ["vmbr0"]


def test_group_packages_reach_cloud_init_and_provision_scripts(run):
    _, out = run
    artifacts = out / "artifacts"
    # the servers (group k3s_server) get jq on both distributions; the agents' snippet stays as it was
    names = sorted(p.name for p in (artifacts / "proxmox").glob("*-user-data.yaml"))
    servers = [n for n in names if "-k3s-pkg" in n]
    assert [n.split("-")[2] for n in servers] == ["debian13", "rocky9"]
    for name in servers:
        assert "- jq\n" in (artifacts / "proxmox" / name).read_text()
    assert "- jq\n" not in (artifacts / "proxmox" / "homelab-mirkwood-rocky9-k3s-user-data.yaml").read_text()
    estel = (artifacts / "scripts" / "estel-provision.stdin.sh").read_text()
    assert "nginx-light" in estel.split("PROVISION_PACKAGES=", 1)[1].splitlines()[0]


def test_k3s_options_reach_the_install_scripts_and_secrets_only_stdin(run):
    _, out = run
    res = _resources(out)
    servers = [res[f"mirkwood-server-mirkwood-k3s-{n}"]["inputs"] for n in ("s1", "s2")]
    for server in servers:
        script = server["create"]
        for line in ("flannel-backend: wireguard-native", "flannel-iface: ens18", "etcd-expose-metrics: true",
                     "- audit-log-maxage=30", "/etc/rancher/k3s/config.yaml.d/50-homelab-datastore.yaml",
                     "/etc/rancher/k3s/registries.yaml", "INSTALL_K3S_SKIP_DOWNLOAD=true",
                     "https://mirror.mirkwood.lan/k3s/v1.31.4+k3s1"):
            assert line in script, line
        assert "cluster-init" not in script and "server: https://" not in script
        assert "raw.githubusercontent.com" not in script
        assert server["stdin"] == "[secret]"
    merry = res["mirkwood-agent-merry-sync"]["inputs"]["create"]
    assert "flannel-iface: eth0" in merry and "- max-pods=150" in merry
    assert "50-homelab-datastore" not in merry and "/etc/rancher/k3s/registries.yaml" in merry


def test_the_loader_needs_the_datastore_and_registry_passwords_as_secrets():
    doc = reach_stack()
    entries = {key: value for key, value in doc["config"].items()}
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys=set())
    lines = "\n".join(caught.value.lines)
    assert "pulumi config set --secret k3sDatastorePassword <value>" in lines
    assert "pulumi config set --secret k3sRegistryPassword-lan <value>" in lines


def test_the_policy_pack_passes_the_opted_in_environment(run):
    from policy import offline

    _, out = run
    violations = offline.evaluate_with_rules(offline.load(out / "resources.json"))
    mandatory = [v.line() for v in violations if v.enforcement == "mandatory"]
    assert mandatory == [], "\n".join(mandatory)
    assert not [v for v in violations if "k3s" in v.line()]  # two servers, one external datastore


def test_incus_instances_take_the_new_distributions_and_their_groups_packages(tmp_path):
    """Production's stack file with one Incus instance on Ubuntu 24.04 and packages for its group."""
    doc = yaml.safe_load((ROOT / "Pulumi.lothlorien.yaml").read_text())
    config = doc["config"]
    config["homelab:incus"]["instances"]["mosquitto"]["distribution"] = "ubuntu2404"
    config["homelab:environment"]["packages"] = {"mqtt": ["mosquitto-clients"]}
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.lothlorien.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "synth", "--env", "lothlorien", "--out", str(tmp_path / "build"),
                           "--stack-dir", str(stacks)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    res = _resources(tmp_path / "build" / "lothlorien")
    mosquitto = res["incus-mosquitto-instance"]["inputs"]
    assert mosquitto["image"] == CATALOG["ubuntu2404"].incus_image == "images:ubuntu/24.04/cloud"
    user_data = yaml.safe_load(mosquitto["config"]["cloud-init.user-data"].removeprefix("#cloud-config\n"))
    assert "mosquitto-clients" in user_data["packages"] and user_data["users"][0]["groups"] == ["sudo"]
    coredns = res["incus-coredns-instance"]["inputs"]
    assert coredns["image"] == "images:debian/12/cloud"
    assert "mosquitto-clients" not in coredns["config"]["cloud-init.user-data"]


def test_an_external_datastore_leaves_etcd_snapshots_nothing_to_snapshot():
    doc = reach_stack()
    doc["config"]["homelab:backups"]["k3s"] = {"schedule": "0 */12 * * *", "retention": 5, "s3": True}
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(doc["config"], stack="mirkwood", secret_keys=set())
    assert ("k3s.clusters[0].datastore: keeps the cluster's state outside etcd, so backups.k3s (etcd snapshots) has "
            "nothing to snapshot: back the database up instead, or drop one of them (got 'postgres')") in caught.value.lines
