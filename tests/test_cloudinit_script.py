"""provision.sh for real: shellcheck, and two runs inside throwaway Debian bookworm and trixie root filesystems."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from cloudinit.render import SCRIPTS, HostsEntry, ProvisionSpec, provision_script
from components.catalog import CATALOG
from tests.rootfs import make_rootfs, run_in_rootfs
from tests.tools import require_tool

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"
SECOND_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvA9Kjvx0F5L7ZkqXmQ3gG3R1oQb1m9d8sMJ3H2dX2p second@homelab-example"


def pippin(**changes) -> ProvisionSpec:
    """An onboarded Raspberry Pi (Raspberry Pi OS is Debian bookworm) joining k3s as an agent."""
    values = dict(
        distribution=CATALOG["debian12"], user="lavender", ssh_authorized_keys=(KEY,), timezone="Europe/Amsterdam",
        hostname="pippin", fqdn="pippin.lothlorien.lan", guest_agent=False, python3=True, roles=("k3s",),
        hosts_entries=(HostsEntry("10.50.0.11", ("arwen.lothlorien.lan", "arwen")),),
    )
    values.update(changes)
    return ProvisionSpec(**values)


def shellcheck(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("shellcheck"), "--severity=style", str(path)],
                          capture_output=True, text=True, check=False)


@pytest.mark.system
def test_provision_sh_passes_shellcheck():
    result = shellcheck(SCRIPTS / "provision.sh")
    assert result.returncode == 0, result.stdout


@pytest.mark.system
@pytest.mark.parametrize("distribution", sorted(CATALOG))
def test_rendered_scripts_pass_shellcheck(tmp_path, distribution):
    path = tmp_path / "provision.sh"
    path.write_text(provision_script(pippin(distribution=CATALOG[distribution])))
    result = shellcheck(path)
    assert result.returncode == 0, result.stdout


def test_script_refuses_to_run_without_its_parameters():
    result = subprocess.run(["bash", str(SCRIPTS / "provision.sh")], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"}, check=False)
    assert result.returncode != 0
    assert "PROVISION_USER: name of the operator account" in result.stderr


def _in(root: Path, command: str) -> str:
    result = run_in_rootfs(root, command)
    assert result.returncode == 0, result.stderr
    return result.stdout


# Each Debian release of the catalog, in a root filesystem of its own suite (tests/rootfs.py SUITES).
RELEASES = [pytest.param(key, id=CATALOG[key].codename) for key in ("debian12", "debian13")]


@pytest.mark.system
@pytest.mark.parametrize("distribution", RELEASES)
def test_provisioning_twice_in_a_debian_rootfs_sets_up_the_host_then_changes_nothing(tmp_path, distribution):
    root = make_rootfs(tmp_path, CATALOG[distribution].codename)
    assert (root / "etc/os-release").read_text().count(f"VERSION_CODENAME={CATALOG[distribution].codename}\n") == 1
    # An existing Raspberry Pi: its old name on 127.0.1.1, an SSH server that allows passwords
    # (an earlier drop-in, as cloud-init or an imager writes it), the Pi's kernel command line.
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n")
    ssh_server = run_in_rootfs(root, "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                                     "openssh-server >/dev/null")
    assert ssh_server.returncode == 0, ssh_server.stderr
    (root / "etc/ssh/sshd_config.d/50-cloud-init.conf").write_text("PasswordAuthentication yes\n")
    (root / "boot/firmware").mkdir(parents=True)
    pi_cmdline = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait"
    (root / "boot/firmware/cmdline.txt").write_text(pi_cmdline + "\n")
    script = provision_script(pippin(distribution=CATALOG[distribution]), disable_root=True)
    # The kernel the Pi runs now, and a reboot that only records that it was asked for.
    (root / "root/running-cmdline").write_text(pi_cmdline + "\n")
    (root / "usr/local/sbin/fake-reboot").write_text("#!/bin/sh\necho reboot >> /root/reboots\n")
    (root / "usr/local/sbin/fake-reboot").chmod(0o755)
    pi = {"PROVISION_RUNNING_CMDLINE": "/root/running-cmdline", "PROVISION_REBOOT_COMMAND": "/usr/local/sbin/fake-reboot"}

    first = run_in_rootfs(root, "exec bash -s", stdin=script, env=pi)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "changed: user lavender\n" in first.stdout
    assert "changed: packages ca-certificates curl git htop iptables python3 sudo vim\n" in first.stdout
    assert first.stdout.splitlines()[-1].startswith("provisioned pippin.lothlorien.lan: ")

    # user, sudo, keys
    assert set(_in(root, "id -nG lavender").split()) >= {"lavender", "sudo"}
    assert _in(root, "getent passwd lavender | cut -d: -f7").strip() == "/bin/bash"
    assert (root / "home/lavender/.ssh/authorized_keys").read_text() == KEY + "\n"
    assert _in(root, "stat -c '%a %U' /home/lavender/.ssh /home/lavender/.ssh/authorized_keys").split("\n")[:2] == [
        "700 lavender", "600 lavender"]
    assert (root / "etc/sudoers.d/90-homelab-lavender").read_text() == "lavender ALL=(ALL) NOPASSWD:ALL\n"
    assert _in(root, "sudo -n -u lavender sudo -n true && echo sudo-ok").strip() == "sudo-ok"
    # sshd's effective configuration, as the daemon would read it: the drop-in wins.
    effective = _in(root, "sshd -T -C user=lavender,host=x,addr=10.50.0.2 | "
                          "grep -E '^(passwordauthentication|kbdinteractiveauthentication|permitrootlogin) ' | sort")
    assert effective.splitlines() == ["kbdinteractiveauthentication no", "passwordauthentication no",
                                      "permitrootlogin no"]
    # hostname, /etc/hosts (old name gone, localhost kept), timezone
    assert (root / "etc/hostname").read_text() == "pippin\n"
    hosts = (root / "etc/hosts").read_text()
    assert hosts == ("127.0.0.1\tlocalhost\n# BEGIN homelab (managed by provision.sh)\n"
                     "127.0.1.1 pippin.lothlorien.lan pippin\n10.50.0.11 arwen.lothlorien.lan arwen\n# END homelab\n")
    assert (root / "etc/localtime").readlink() == Path("/usr/share/zoneinfo/Europe/Amsterdam")
    assert (root / "etc/timezone").read_text() == "Europe/Amsterdam\n"
    # packages and the k3s prerequisites
    installed = _in(root, "dpkg-query -W -f='${Package} ${Status}\\n' vim htop curl git sudo python3 iptables")
    assert sorted(line.split()[0] for line in installed.splitlines() if line.endswith("install ok installed")) == [
        "curl", "git", "htop", "iptables", "python3", "sudo", "vim"]
    assert (root / "etc/modules-load.d/k3s.conf").read_text() == "br_netfilter\noverlay\n"
    assert "net.ipv4.ip_forward = 1" in (root / "etc/sysctl.d/90-k3s.conf").read_text()
    # the Raspberry Pi's memory cgroup for k3s, after the next reboot
    assert (root / "boot/firmware/cmdline.txt").read_text() == pi_cmdline + " cgroup_enable=memory cgroup_memory=1\n"
    assert "reboot needed: /boot/firmware/cmdline.txt now has cgroup_enable=memory cgroup_memory=1\n" in first.stdout
    # ... and the host reboots for it (k3s: "failed to find memory cgroup" until then), once.
    assert "changed: reboot for kernel arguments cgroup_enable=memory cgroup_memory=1\n" in first.stdout
    assert (root / "root/reboots").read_text() == "reboot\n"
    (root / "root/running-cmdline").write_text((root / "boot/firmware/cmdline.txt").read_text())

    snapshot = {p: (root / p).read_bytes() for p in ("etc/hosts", "etc/hostname", "etc/passwd", "etc/group",
                                                     "home/lavender/.ssh/authorized_keys", "var/lib/dpkg/status",
                                                     "boot/firmware/cmdline.txt")}
    second = run_in_rootfs(root, "exec bash -s", stdin=script, env=pi)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout == "no changes\n"
    assert {p: (root / p).read_bytes() for p in snapshot} == snapshot
    assert (root / "root/reboots").read_text() == "reboot\n", "no second reboot once the kernel has the arguments"
    # A reboot that did not happen (file written, kernel still without the arguments) is asked for again.
    (root / "root/running-cmdline").write_text(pi_cmdline + "\n")
    pending = run_in_rootfs(root, "exec bash -s", stdin=script, env=pi)
    assert pending.stdout.splitlines() == ["changed: reboot for kernel arguments cgroup_enable=memory cgroup_memory=1",
                                           "provisioned pippin.lothlorien.lan: 1 changes"]
    (root / "root/running-cmdline").write_text((root / "boot/firmware/cmdline.txt").read_text())

    # A changed definition re-runs as an update: only what differs changes.
    updated = provision_script(pippin(distribution=CATALOG[distribution], ssh_authorized_keys=(KEY, SECOND_KEY),
                                      timezone="UTC"), disable_root=True)
    third = run_in_rootfs(root, "exec bash -s", stdin=updated, env=pi)
    assert third.returncode == 0, third.stdout + third.stderr
    assert third.stdout.splitlines() == [
        "changed: /home/lavender/.ssh/authorized_keys",
        "changed: timezone UTC",
        "changed: /etc/timezone",
        "provisioned pippin.lothlorien.lan: 3 changes",
    ]
    assert (root / "home/lavender/.ssh/authorized_keys").read_text() == f"{KEY}\n{SECOND_KEY}\n"


def _ensure_file_shell(tmp_path: Path) -> Path:
    """provision.sh's changed() and ensure_file() alone, as a library a test can call."""
    text = (SCRIPTS / "provision.sh").read_text()
    functions = [re.search(rf"^{name}\(\) {{\n.*?^}}\n", text, re.S | re.M) for name in ("changed", "ensure_file")]
    assert all(functions), "provision.sh no longer defines changed() and ensure_file()"
    library = tmp_path / "lib.sh"
    library.write_text("set -euo pipefail\nCHANGED=()\n" + "".join(m.group(0) for m in functions))
    return library


def _bash(library: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f'source "$0"; {command}', str(library)], capture_output=True, text=True,
                          check=False)


def test_ensure_file_checks_the_new_content_before_it_takes_effect(tmp_path):
    library = _ensure_file_shell(tmp_path)
    target = tmp_path / "sudoers.d" / "90-homelab-lavender"
    target.parent.mkdir()
    target.write_text("old\n")
    refused = _bash(library, f'ensure_file {target} "new" 0440 false')
    assert refused.returncode != 0
    assert f"refused {target}" in refused.stderr
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["90-homelab-lavender"], "a temporary file was left"
    accepted = _bash(library, f'ensure_file {target} "new" 0440 test -s')
    assert accepted.returncode == 0, accepted.stderr
    assert target.read_text() == "new"
    assert oct(target.stat().st_mode & 0o777) == "0o440"


def test_ensure_file_never_writes_through_a_planted_file(tmp_path):
    """~/.ssh belongs to the user: a symlink planted at a predictable temporary name, or in place of
    the file itself, must not make root write elsewhere."""
    library = _ensure_file_shell(tmp_path)
    ssh = tmp_path / "ssh"
    ssh.mkdir()
    victim = tmp_path / "shadow"
    victim.write_text("root:secret\n")
    (ssh / "authorized_keys.provision-tmp").symlink_to(victim)
    (ssh / ".authorized_keys.XXXXXXXX").symlink_to(victim)
    (ssh / "authorized_keys").symlink_to(victim)
    result = _bash(library, f'ensure_file {ssh / "authorized_keys"} "{KEY}"$\'\\n\' 0600')
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "root:secret\n"
    assert not (ssh / "authorized_keys").is_symlink()
    assert (ssh / "authorized_keys").read_text() == KEY + "\n"


def test_sudoers_file_is_installed_only_through_visudo():
    text = (SCRIPTS / "provision.sh").read_text()
    calls = [line.strip() for line in text.splitlines() if "/etc/sudoers.d/" in line and "ensure_file" in line]
    assert calls == ['ensure_file "/etc/sudoers.d/90-homelab-$user" "$user ALL=(ALL) NOPASSWD:ALL"$\'\\n\' 0440 '
                     'visudo -cqf']
    assert "provision-tmp" not in text
