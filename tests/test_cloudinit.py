"""The shared base provisioning: cloud-config per distribution and the parameters of the SSH script."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from cloudinit import render
from cloudinit.render import HostsEntry, ProvisionSpec, provision_script, roles_for_groups, user_data
from components.catalog import CATALOG

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"


def spec(distribution: str = "debian12", **changes) -> ProvisionSpec:
    values = dict(distribution=CATALOG[distribution], user="lavender", ssh_authorized_keys=(KEY,),
                  timezone="Europe/Amsterdam", hostname="fleur", fqdn="fleur.lothlorien.lan")
    values.update(changes)
    return ProvisionSpec(**values)


def doc(s: ProvisionSpec) -> dict:
    text = user_data(s)
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def test_operator_gets_sudo_and_keys_only_and_root_is_disabled():
    d = doc(spec())
    assert d["users"] == [{
        "name": "lavender", "groups": ["sudo"], "shell": "/bin/bash", "sudo": "ALL=(ALL) NOPASSWD:ALL",
        "lock_passwd": True, "ssh_authorized_keys": [KEY],
    }]
    assert d["ssh_pwauth"] is False
    assert d["disable_root"] is True
    assert not {"password", "passwd", "chpasswd", "plain_text_passwd"} & (set(d) | set(d["users"][0]))


def test_hostname_fqdn_timezone_and_package_cache_update():
    d = doc(spec())
    assert (d["hostname"], d["fqdn"], d["prefer_fqdn_over_hostname"]) == ("fleur", "fleur.lothlorien.lan", False)
    assert d["timezone"] == "Europe/Amsterdam"
    assert d["package_update"] is True


def test_debian_installs_the_seed_packages_and_the_guest_agent():
    d = doc(spec("debian12"))
    assert d["packages"] == ["curl", "git", "htop", "qemu-guest-agent", "sudo", "vim"]
    assert d["runcmd"] == [["systemctl", "enable", "--now", "qemu-guest-agent"]]


@pytest.mark.parametrize("distribution", ["rocky9", "rocky10"])
def test_rocky_uses_its_package_names_and_epel_for_htop(distribution):
    d = doc(spec(distribution, guest_agent=False))
    assert d["users"][0]["groups"] == ["wheel"]
    # vim is vim-enhanced; curl-minimal (in the image) conflicts with curl; htop lives in EPEL.
    assert d["packages"] == ["git", "sudo", "vim-enhanced"]
    assert d["runcmd"] == [["dnf", "-y", "install", "epel-release"], ["dnf", "-y", "install", "htop"]]


def test_python3_where_the_platform_needs_it_and_no_guest_agent_without_a_hypervisor_agent():
    d = doc(spec(guest_agent=False, python3=True))
    assert "python3" in d["packages"] and "qemu-guest-agent" not in d["packages"]
    assert "runcmd" not in d


def test_hosts_entries_are_appended_and_kept_across_boots():
    d = doc(spec(hosts_entries=(HostsEntry("10.50.0.11", ("arwen.lothlorien.lan", "arwen")),
                                HostsEntry("10.50.0.31", ("pippin.lothlorien.lan", "pippin")))))
    # "localhost" only maintains the 127.0.1.1 line; true would re-render /etc/hosts on every boot.
    assert d["manage_etc_hosts"] == "localhost"
    assert d["write_files"] == [{
        "path": "/etc/hosts", "append": True,
        "content": "10.50.0.11 arwen.lothlorien.lan arwen\n10.50.0.31 pippin.lothlorien.lan pippin\n",
    }]


def test_k3s_role_adds_kernel_prerequisites_per_family():
    assert roles_for_groups(("web", "k3s_agent")) == ("k3s",)
    debian = doc(spec(roles=("k3s",), guest_agent=False))
    rocky = doc(spec("rocky9", roles=("k3s",), guest_agent=False))
    assert {"ca-certificates", "iptables"} <= set(debian["packages"])
    assert {"container-selinux", "iptables-nft"} <= set(rocky["packages"])
    files = {f["path"]: f["content"] for f in debian["write_files"]}
    assert files["/etc/modules-load.d/k3s.conf"] == "br_netfilter\noverlay\n"
    assert "net.ipv4.ip_forward = 1\n" in files["/etc/sysctl.d/90-k3s.conf"]
    assert debian["runcmd"] == [["systemctl", "restart", "systemd-modules-load.service"], ["sysctl", "--system"],
                                ["systemctl", "restart", "systemd-journald.service"]]


def test_k3s_nodes_keep_a_persistent_journal_for_alloy():
    # Alloy's loki.source.journal reads /var/log/journal; Rocky GenericCloud has only the volatile
    # /run/log/journal (Storage=auto without /var/log/journal), and Alloy exits on a missing path.
    for distribution in ("rocky9", "rocky10", "debian12"):
        d = doc(spec(distribution, roles=("k3s",), guest_agent=False))
        files = {f["path"]: f["content"] for f in d["write_files"]}
        assert files["/etc/systemd/journald.conf.d/90-homelab-persistent.conf"] == "[Journal]\nStorage=persistent\n"
        assert d["runcmd"][-1] == ["systemctl", "restart", "systemd-journald.service"]
    script = provision_script(spec(roles=("k3s",)))
    assert "ensure_file /etc/systemd/journald.conf.d/90-homelab-persistent.conf" in script
    assert "journald.conf.d" not in user_data(spec(guest_agent=False))  # only hosts that run Alloy


def test_unknown_role_is_refused():
    with pytest.raises(ValueError, match=r"unknown roles \['k8s'\]; known: \['k3s'\]"):
        spec(roles=("k8s",))


def test_rendering_is_deterministic_and_sorted():
    a = spec(extra_packages=("zsh", "jq"), roles=("k3s",))
    assert user_data(a) == user_data(spec(extra_packages=("zsh", "jq"), roles=("k3s",)))
    assert provision_script(a) == provision_script(a)
    assert doc(a)["packages"] == sorted(doc(a)["packages"])


def test_multiline_file_contents_render_as_literal_blocks():
    assert "content: |\n    br_netfilter\n    overlay\n" in user_data(spec(roles=("k3s",)))


def test_script_parameters_are_the_same_definition_as_the_cloud_config():
    s = spec("rocky9", guest_agent=False, roles=("k3s",), hosts_entries=(HostsEntry("10.50.0.11", ("arwen",)),))
    script = provision_script(s)
    assert script.startswith("#!/usr/bin/env bash\n# Parameters of fleur.lothlorien.lan")
    assert "PROVISION_PACKAGES='container-selinux git iptables-nft sudo vim-enhanced'\n" in script
    assert f"PROVISION_PACKAGES='{' '.join(doc(s)['packages'])}'\n" in script
    assert "PROVISION_EXTRA_REPOSITORY_PACKAGE=epel-release\nPROVISION_EXTRA_REPOSITORY_PACKAGES=htop\n" in script
    assert "PROVISION_ADMIN_GROUP=wheel\n" in script
    assert "ensure_file /etc/modules-load.d/k3s.conf 'br_netfilter\noverlay\n'" in script
    assert "PROVISION_PI_KERNEL_ARGS='cgroup_enable=memory cgroup_memory=1'\n" in script
    assert "PROVISION_PI_KERNEL_ARGS=''\n" in provision_script(spec())
    assert script.count("set -euo pipefail") == 1


def test_script_parameters_survive_shell_metacharacters(tmp_path):
    hostile = KEY + " it's $(touch " + str(tmp_path / "pwned") + ") `id`"
    params = render._ENV.get_template("provision-params.sh.j2").render(
        spec=spec(ssh_authorized_keys=(hostile, KEY)), fqdn="x", package_manager="apt", admin_group="sudo",
        packages="", extra_repository_package="", extra_repository_packages="",
        ssh_keys="\n".join((hostile, KEY)), hosts_entries="", files=(), pi_kernel_args="", disable_root="yes",
    )
    shown = subprocess.run(["bash", "-c", params + '\nprintf %s "$PROVISION_SSH_KEYS"'],
                           capture_output=True, text=True, check=True).stdout
    assert shown == hostile + "\n" + KEY
    assert not (tmp_path / "pwned").exists()


def test_script_needs_a_hostname():
    with pytest.raises(ValueError, match="needs the spec's hostname"):
        provision_script(spec(hostname=None))


def test_root_keeps_key_login_only_when_provisioning_connects_as_root():
    assert "PROVISION_DISABLE_ROOT=yes\n" in provision_script(spec())
    assert "PROVISION_DISABLE_ROOT=no\n" in provision_script(spec(), disable_root=False)
