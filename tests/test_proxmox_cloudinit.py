"""The shared user-data the VMs get: base provisioning without any host in it, valid for cloud-init."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from cloudinit.render import ProvisionSpec
from components.catalog import CATALOG
from components.proxmox.metadata import shared_user_data
from tests.tools import require_tool

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"


def _spec(distribution: str, **overrides) -> ProvisionSpec:
    return ProvisionSpec(**{"distribution": CATALOG[distribution], "user": "lavender", "ssh_authorized_keys": (KEY,),
                            "timezone": "Europe/Amsterdam", **overrides})


@pytest.mark.parametrize("distribution", sorted(CATALOG))
def test_shared_user_data_keeps_etc_hosts_for_the_meta_data_name(distribution):
    text = shared_user_data(_spec(distribution))
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    assert doc["manage_etc_hosts"] == "localhost"
    assert "hostname" not in doc and "fqdn" not in doc
    assert doc["ssh_pwauth"] is False and doc["disable_root"] is True
    assert doc["users"][0]["ssh_authorized_keys"] == [KEY]
    assert doc["users"][0]["lock_passwd"] is True
    assert CATALOG[distribution].guest_agent_package in doc["packages"]
    assert shared_user_data(_spec(distribution)) == text  # deterministic


def test_shared_user_data_refuses_a_host_name():
    with pytest.raises(ValueError, match="must not name a host"):
        shared_user_data(_spec("rocky9", hostname="mirkwood-k3s-s1", fqdn="mirkwood-k3s-s1.mirkwood.lan"))


@pytest.mark.system
@pytest.mark.parametrize("distribution", sorted(CATALOG))
def test_shared_user_data_passes_cloud_init_schema(distribution, tmp_path):
    cloud_init = require_tool("cloud-init")
    target = tmp_path / f"{distribution}-user-data.yaml"
    target.write_text(shared_user_data(_spec(distribution)))
    done = subprocess.run([cloud_init, "schema", "-c", str(target)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Valid cloud-config" in done.stdout


@pytest.mark.system
def test_cloud_init_schema_rejects_a_broken_document(tmp_path):
    """The schema check above can fail: a wrongly typed key is refused."""
    cloud_init = require_tool("cloud-init")
    target = tmp_path / "broken.yaml"
    doc = yaml.safe_load(shared_user_data(_spec("rocky9")))
    doc["users"] = 3
    target.write_text("#cloud-config\n" + yaml.safe_dump(doc))
    done = subprocess.run([cloud_init, "schema", "-c", str(target)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0


def test_shared_user_data_keeps_rocky_on_the_short_hostname():
    # The name comes from meta-data (local-hostname: the FQDN); cloud-init's RHEL distro prefers
    # the FQDN as hostname unless prefer_fqdn_over_hostname is false (cloudinit/distros/rhel.py).
    import yaml as _yaml

    from cloudinit.render import ProvisionSpec
    from components.catalog import CATALOG
    from components.proxmox.metadata import shared_user_data
    for key in ("rocky9", "rocky10", "debian12"):
        spec = ProvisionSpec(distribution=CATALOG[key], user="lavender", ssh_authorized_keys=("ssh-ed25519 AAAA x",))
        doc = _yaml.safe_load(shared_user_data(spec))
        assert doc["prefer_fqdn_over_hostname"] is False, key
