"""Hosts whose provisioning connects as root keep root's key login, on the scripts the synth renders
for the committed environments: an SSH-provisioned Linode (the provider gives it only root), a
Proxmox LXC container (Proxmox writes the operator keys into root's authorized_keys only) and an
onboarded host whose `ssh_user` is root. Every other host has root login switched off. Dropping the
rule would lock the next `pulumi up` out of such a host (its commands reconnect as root)."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import ENVIRONMENTS, ROOT


def root_connected_hosts(env: str) -> set[str]:
    """The hosts whose provisioning connects as root, from the stack file."""
    config = yaml.safe_load((ROOT / f"Pulumi.{env}.yaml").read_text())["config"]
    as_root = {i["name"] for i in (config.get("homelab:linode") or {}).get("instances", [])
               if i.get("provision") == "ssh"}
    as_root |= {h["name"] for h in config.get("homelab:onboard") or [] if h.get("ssh_user", "root") == "root"}
    as_root |= {c["name"] for c in (config.get("homelab:proxmox") or {}).get("containers", [])}
    return as_root


def disable_root_by_host(artifacts: dict[str, str]) -> dict[str, str]:
    values = {}
    for path, text in artifacts.items():
        match = re.fullmatch(r"scripts/(.+)-provision\.stdin\.sh", path)
        if match:
            assigned = re.findall(r"^PROVISION_DISABLE_ROOT=(\w+)$", text, re.MULTILINE)
            assert len(assigned) == 1, f"{path}: {assigned}"
            values[match.group(1)] = assigned[0]
    return values


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_root_key_login_is_kept_exactly_for_hosts_provisioned_as_root(synth_result, env):
    values = disable_root_by_host(synth_result(env).artifacts)
    as_root = root_connected_hosts(env)
    assert values, f"{env}: no provisioning script rendered"
    assert {host for host, value in values.items() if value == "no"} == as_root & set(values)
    assert {value for host, value in values.items() if host not in as_root} <= {"yes"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_lxc_container_is_provisioned_and_keeps_root_login(synth_result, env):
    """A container is provisioned like every other host (a key rotation or a package reaches it),
    over root, so its script must keep root's key login or the next `up` is locked out."""
    config = yaml.safe_load((ROOT / f"Pulumi.{env}.yaml").read_text())["config"]
    containers = {c["name"] for c in (config.get("homelab:proxmox") or {}).get("containers", [])}
    values = disable_root_by_host(synth_result(env).artifacts)
    assert containers, f"{env}: the committed stack has no LXC container to check"
    assert {name: values.get(name) for name in containers} == {name: "no" for name in containers}


def test_lothlorien_has_an_ssh_provisioned_linode_that_keeps_root_login(synth_result):
    values = disable_root_by_host(synth_result("lothlorien").artifacts)
    as_root = root_connected_hosts("lothlorien")
    assert as_root and all(values.get(host) == "no" for host in as_root), (as_root, values)


def test_provision_sh_maps_the_switch_to_sshd():
    script = (ROOT / "cloudinit" / "scripts" / "provision.sh").read_text()
    # Root keeps key login only (never passwords) unless switched off.
    assert re.search(r'root_login=prohibit-password\b', script)
    assert '[ "$PROVISION_DISABLE_ROOT" = yes ] && root_login=no' in script
    assert '"PermitRootLogin $root_login"' in script and '"PasswordAuthentication no"' in script
