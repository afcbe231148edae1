"""Every rendered user-data passes the real `cloud-init schema`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cloudinit.render import HostsEntry, ProvisionSpec, user_data
from components.catalog import CATALOG
from tests.helpers import some
from tests.tools import require_tool

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"
# Each distribution twice: a Proxmox template (guest agent, host name from meta-data) and a named
# host with the k3s role and python3 (Linode, Incus).
VARIANTS = [(d, *variant) for d in sorted(CATALOG) for variant in ((True, (), None), (False, ("k3s",), "arwen"))]


def schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("cloud-init"), "schema", "-c", str(path)],
                          capture_output=True, text=True, check=False)


@pytest.mark.system
@pytest.mark.parametrize("distribution,guest_agent,roles,hostname", VARIANTS,
                         ids=["-".join(map(str, v)) for v in VARIANTS])
def test_rendered_user_data_passes_cloud_init_schema(tmp_path, distribution, guest_agent, roles, hostname):
    spec = ProvisionSpec(
        distribution=CATALOG[distribution], user="lavender", ssh_authorized_keys=(KEY,), timezone="Europe/Amsterdam",
        hostname=hostname, fqdn=f"{hostname}.lothlorien.lan" if hostname else None, guest_agent=guest_agent,
        roles=roles, python3=not guest_agent,
        hosts_entries=(HostsEntry("10.50.0.31", ("pippin.lothlorien.lan", "pippin")),),
    )
    path = tmp_path / "user-data.yaml"
    path.write_text(user_data(spec))
    result = schema(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


@pytest.mark.system
@pytest.mark.parametrize("env", ["mirkwood", "lothlorien"])
def test_every_user_data_the_program_renders_passes_cloud_init_schema(tmp_path, env, synth_result):
    run = synth_result(env)
    documents = {name: text for name, text in run.artifacts.items() if text.startswith("#cloud-config")}
    if env == "mirkwood":
        assert "linode/elanor-instance.user-data-0.yaml" in documents
    for name, text in sorted(some(documents.items(), "#cloud-config documents")):
        path = tmp_path / name.replace("/", "_")
        path.write_text(text)
        result = schema(path)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


@pytest.mark.system
def test_the_schema_check_does_reject_a_broken_document(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("#cloud-config\nssh_pwauth: [not, a, boolean]\nmanage_etc_hosts: sometimes\n")
    result = schema(path)
    assert result.returncode != 0
    assert "manage_etc_hosts" in result.stdout + result.stderr
