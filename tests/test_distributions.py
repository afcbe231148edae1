"""Distribution facts the provisioning reads, and the committed environments untouched by the options
they do not opt into (issue #20)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from cloudinit.render import CLOUD_INIT_WAIT, ProvisionSpec, admin_group, packages, provision_script, user_data
from components.catalog import CATALOG
from stacks.config import loader
from synth.engine import synth_config
from tests.conftest import ENVIRONMENTS, ROOT, run_synth

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _wait_with_cloud_init_exiting(tmp_path: Path, code: int) -> int:
    stub = tmp_path / "cloud-init"
    stub.write_text(f"#!/bin/sh\necho 'status: done'\nexit {code}\n")
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{tmp_path}:/usr/bin:/bin"}
    return subprocess.run(["bash", "-c", CLOUD_INIT_WAIT], env=env, capture_output=True, check=False).returncode


@pytest.mark.parametrize("key", sorted(k for k, d in CATALOG.items() if d.cloud_init))
def test_readiness_wait_fits_the_cloud_init_each_image_ships(tmp_path, key):
    """cloud-init 23.4 and later exit 2 from `status --wait` when they finished with recoverable
    errors (a deprecated key): the host is usable and the wait must pass; 1 is a failure."""
    assert _wait_with_cloud_init_exiting(tmp_path, 0) == 0
    assert _wait_with_cloud_init_exiting(tmp_path, 1) != 0
    if _version(CATALOG[key].cloud_init) >= (23, 4):
        assert _wait_with_cloud_init_exiting(tmp_path, 2) == 0


@pytest.mark.parametrize("key", ["debian13", "ubuntu2404"])
def test_debian_and_ubuntu_provision_with_the_sudo_group_and_debian_names(key):
    spec = ProvisionSpec(distribution=CATALOG[key], user="lavender", ssh_authorized_keys=(KEY,), hostname="h1",
                         roles=("k3s",))
    assert admin_group(spec) == "sudo"
    assert packages(spec) == ("ca-certificates", "curl", "git", "htop", "iptables", "qemu-guest-agent", "sudo", "vim")
    doc = yaml.safe_load(user_data(spec).removeprefix("#cloud-config\n"))
    assert doc["users"][0]["groups"] == ["sudo"]
    assert "PROVISION_ADMIN_GROUP=sudo\n" in provision_script(spec)
    assert "PROVISION_PACKAGE_MANAGER=apt\n" in provision_script(spec)


def test_a_distribution_may_name_its_own_admin_group():
    import dataclasses

    wheel_debian = dataclasses.replace(CATALOG["debian13"], admin_group="wheel")
    spec = ProvisionSpec(distribution=wheel_debian, user="lavender", ssh_authorized_keys=(KEY,), hostname="h1")
    assert admin_group(spec) == "wheel"
    assert "PROVISION_ADMIN_GROUP=wheel\n" in provision_script(spec)


# --- the committed environments do not opt in ------------------------------------------------------

OPT_IN_MARKERS = ("flannel-", "50-homelab-datastore.yaml", "registries.yaml", "AIRGAP_URL", "kubelet-arg",
                  "debian13", "ubuntu2404", "-pkg")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_committed_environments_set_none_of_the_new_options(env):
    entries, secret_keys, _ = synth_config(env)
    cfg = loader.validate(entries, stack=env, secret_keys=secret_keys)
    assert cfg.environment.packages == {}
    for guest in (*cfg.proxmox.vms, *cfg.proxmox.containers):
        assert (guest.datastore, guest.bridge) == (None, None)
    for cluster in cfg.k3s.clusters:
        assert (cluster.server_args, cluster.agent_args, cluster.flannel_backend, cluster.flannel_iface,
                cluster.node_flannel_iface, cluster.datastore, cluster.registry, cluster.airgap) == (
            (), (), None, None, {}, None, None, None)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_committed_environments_render_no_option_and_the_same_with_defaults_spelt_out(env, tmp_path, synth_result):
    """Nothing of the options reaches the committed environments' synth, and writing the defaults out
    (each guest's datastore and bridge, empty package lists) renders byte for byte the same."""
    plain = synth_result(env)
    for path in (p for p in plain.out.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        assert not [m for m in OPT_IN_MARKERS if m in text], path
    doc = yaml.safe_load((ROOT / f"Pulumi.{env}.yaml").read_text())
    config = doc["config"]
    px = config["homelab:proxmox"]
    for guest in (*px.get("vms", []), *px.get("containers", [])):
        guest["datastore"] = px.get("storage", {}).get("vm", "local-lvm")
        guest["bridge"] = px.get("bridge", {}).get("name", "vmbr0")
    config["homelab:environment"]["packages"] = {}
    for cluster in config["homelab:k3s"]["clusters"]:
        cluster.update({"server_args": [], "agent_args": [], "node_flannel_iface": {}})
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / f"Pulumi.{env}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for other in ENVIRONMENTS:  # the peer check of staging against production reads the files beside it
        if other != env:
            (stacks / f"Pulumi.{other}.yaml").write_text((ROOT / f"Pulumi.{other}.yaml").read_text())
    spelt = run_synth(env, tmp_path / "build", stack_dir=stacks)
    assert spelt.returncode == 0, spelt.stderr
    for name in ("resources.json", "outputs.json"):
        assert json.loads((spelt.out / name).read_text()) == json.loads((plain.out / name).read_text()), name
    assert spelt.artifacts == plain.artifacts
