"""Onboarding existing hosts: the script on stdin, a readiness check as the operator, config checks."""

from __future__ import annotations

import pulumi
import pytest

from cloudinit.render import ProvisionSpec, provision_script
from components.catalog import CATALOG
from components.onboard import READY_CHECK, OnboardedHost, OnboardedHostArgs
from stacks.config import loader
from stacks.config.model import declared_hosts
from stacks.provision import provision_spec
from tests.conftest import registered

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"
SCRIPT = provision_script(ProvisionSpec(distribution=CATALOG["debian12"], user="lavender", ssh_authorized_keys=(KEY,),
                                        hostname="pippin", fqdn="pippin.lothlorien.lan", guest_agent=False))


def one(name: str) -> dict:
    found = registered(name, "command:remote:Command")
    assert len(found) == 1, [r["name"] for r in found]
    return found[0]


@pytest.mark.parametrize("ssh_user,command", [("pi", "sudo --non-interactive bash -s"), ("root", "bash -s")])
@pulumi.runtime.test
def test_script_goes_on_stdin_and_a_change_is_an_update(ssh_user, command):
    name = f"ob-{ssh_user}"
    host = OnboardedHost(name, OnboardedHostArgs(address="10.50.0.31", ssh_user=ssh_user, operator_user="lavender",
                                                 provision_script=SCRIPT, private_key=pulumi.Output.secret("k")))

    def check(_):
        provision = one(f"{name}-provision")
        assert provision["inputs"]["stdin"] == SCRIPT
        assert provision["inputs"]["create"] == provision["inputs"]["update"] == command
        # triggers would replace the resource on change (pulumi-command#855): none here.
        assert "triggers" not in provision["inputs"]
        assert provision["inputs"]["connection"] == "[secret]"
        assert provision["parent"].endswith(f"homelab:onboard:OnboardedHost::{name}")

    return host.provision.id.apply(check)


@pulumi.runtime.test
def test_ready_runs_as_the_operator_after_provisioning_and_rechecks_when_the_script_changes():
    host = OnboardedHost("obready", OnboardedHostArgs(address="pippin.lothlorien.lan", ssh_user="pi",
                                                      operator_user="lavender", provision_script=SCRIPT,
                                                      private_key=pulumi.Output.secret("k")))

    def check(_):
        provision, ready = one("obready-provision"), one("obready-ready")
        assert ready["inputs"]["create"] == READY_CHECK == "sudo -n true && hostname"
        assert provision["urn"] in ready["dependencies"]
        assert ready["options"]["replace_on_changes"] == ["triggers[*]"]
        assert len(ready["inputs"]["triggers"]) == 1 and len(ready["inputs"]["triggers"][0]) == 64

    return host.ready.id.apply(check)


def _entries(onboard: list) -> dict:
    return {
        "homelab:environment": {
            "name": "lothlorien", "domain": "lothlorien.lan", "production": True,
            "networks": {"production": {"cidr": "10.50.0.0/24"}},
            "operator": {"ssh_authorized_keys": [KEY]},
        },
        "homelab:onboard": onboard,
        "homelab:sshPrivateKey": "x",
    }


PI = {"name": "pippin", "address": "10.50.0.31", "ssh_user": "pi", "distribution": "debian12", "groups": ["k3s_agent"]}


def test_address_must_be_an_ip_or_a_dns_name():
    good = [PI, {**PI, "name": "merry", "address": "merry.lothlorien.lan"}]
    cfg = loader.validate(_entries(good), stack="lothlorien", secret_keys={"homelab:sshPrivateKey"})
    assert [h.address for h in declared_hosts(cfg)] == ["10.50.0.31", "merry.lothlorien.lan"]
    bad = [{**PI, "address": "10.50.0.300"}, {**PI, "name": "sam", "address": "sam_pi"},
           {**PI, "name": "rosie", "address": "http://rosie.lan"}]
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(_entries(bad), stack="lothlorien", secret_keys={"homelab:sshPrivateKey"})
    message = "is not an IPv4 address or a DNS name, e.g. 10.50.0.31 or pi1.lothlorien.lan"
    assert caught.value.lines == [
        f"onboard[0].address: {message} (got '10.50.0.300')",
        f"onboard[1].address: {message} (got 'sam_pi')",
        f"onboard[2].address: {message} (got 'http://rosie.lan')",
    ]


def test_unknown_distribution_user_and_duplicates_are_reported_together():
    bad = [{**PI, "distribution": "raspbian"}, {**PI, "ssh_user": "Pi"}]
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(_entries(bad), stack="lothlorien", secret_keys={"homelab:sshPrivateKey"})
    assert caught.value.lines == [
        "onboard[0].distribution: is not a distribution in the catalog; known: debian12, debian13, rocky10, rocky9, ubuntu2404 (got 'raspbian')",
        "onboard[1].ssh_user: is not a login name (lowercase, up to 32 characters) (got 'Pi')",
    ]
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(_entries([PI, {**PI, "address": "10.50.0.32"}, {**PI, "name": "sam"}]),
                        stack="lothlorien", secret_keys={"homelab:sshPrivateKey"})
    assert caught.value.lines == [
        "onboard[1].name: hostname is already used by onboard[0].name (onboard) (got 'pippin')",
        "onboard[2].address: address is already used by onboard[0].address (got '10.50.0.31')",
    ]


def test_k3s_agent_group_brings_the_k3s_prerequisites_and_hosts_entries():
    entries = _entries([PI, {**PI, "name": "merry", "address": "10.50.0.32", "groups": []}])
    cfg = loader.validate(entries, stack="lothlorien", secret_keys={"homelab:sshPrivateKey"})
    spec = provision_spec(cfg, "pippin", "debian12", "onboard", ("k3s_agent",))
    assert spec.roles == ("k3s",) and spec.python3 and not spec.guest_agent
    assert [e.line() for e in spec.hosts_entries] == ["10.50.0.32 merry.lothlorien.lan merry"]
    assert spec.timezone == cfg.environment.timezone and spec.user == "lavender"


def test_synth_shows_lothlorien_onboarded_pi_as_a_k3s_agent(synth_result):
    run = synth_result("lothlorien")
    pippin = next(h for h in run.outputs["inventory"] if h["name"] == "pippin")
    assert pippin == {"addresses": {"primary": "10.50.0.61"}, "distribution": "debian12",
                      "fqdn": "pippin.lothlorien.lan", "groups": ["k3s_agent"], "name": "pippin",
                      "platform": "onboard", "ssh_user": "lavender"}
    script = run.artifacts["scripts/pippin-provision.stdin.sh"]
    assert "PROVISION_HOSTNAME=pippin\n" in script and "ensure_file /etc/modules-load.d/k3s.conf" in script
    components = [r for r in run.resources if r["type"] == "homelab:onboard:OnboardedHost"]
    assert [c["name"] for c in components] == ["pippin"]


def test_cluster_membership_alone_brings_the_k3s_prerequisites():
    # A server or agent without k3s_* groups still needs the modules, sysctls and Pi cgroups:
    # without them the k3s install fails on the host while the config looked valid.
    hosts = [{**PI, "name": "merry", "address": "10.50.0.32", "groups": []},
             {**PI, "groups": []}, {**PI, "name": "sam", "address": "10.50.0.33", "groups": ["web"]}]
    entries = {**_entries(hosts), "homelab:k3s": {"clusters": [
        {"name": "lothlorien", "version": "v1.31.4+k3s1", "servers": ["merry"], "agents": ["pippin"]}]},
        # Production backs its cluster up (stacks/config/backups.py).
        "homelab:backups": {"store": {"endpoint": "minio.lan:9000", "bucket": "homelab-lothlorien"},
                            "k3s": {"schedule": "0 */6 * * *", "retention": 28, "s3": True}},
        "homelab:backupS3AccessKey": "x", "homelab:backupS3SecretKey": "x"}
    cfg = loader.validate(entries, stack="lothlorien", secret_keys={
        "homelab:sshPrivateKey", "homelab:backupS3AccessKey", "homelab:backupS3SecretKey"})
    roles = {name: provision_spec(cfg, name, "debian12", "onboard", ()).roles for name in ("merry", "pippin", "sam")}
    assert roles == {"merry": ("k3s",), "pippin": ("k3s",), "sam": ()}
    script = provision_script(provision_spec(cfg, "pippin", "debian12", "onboard", ()))
    assert "/etc/modules-load.d/k3s.conf" in script and "cgroup_enable=memory" in script


def _run_ready_check(tmp_path, kernel_args, boot_cmdline: str | None, running: str):
    """ready_check() run by bash against files standing in for /boot/firmware/cmdline.txt and /proc/cmdline."""
    import subprocess

    from components.onboard import ready_check
    (tmp_path / "proc-cmdline").write_text(running + "\n")
    command = ready_check(kernel_args).replace(READY_CHECK, "true")
    command = command.replace("/proc/cmdline", str(tmp_path / "proc-cmdline"))
    for path in ("/boot/firmware/cmdline.txt", "/boot/cmdline.txt"):
        command = command.replace(path, str(tmp_path / path.strip("/").replace("/", "-")))
    if boot_cmdline is not None:
        (tmp_path / "boot-firmware-cmdline.txt").write_text(boot_cmdline + "\n")
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False)


def test_ready_check_waits_for_the_reboot_that_activates_the_pi_kernel_arguments(tmp_path):
    from components.onboard import ready_check
    args = ("cgroup_enable=memory", "cgroup_memory=1")
    assert ready_check(()) == READY_CHECK
    pending = _run_ready_check(tmp_path, args, "root=/dev/mmcblk0p2 cgroup_enable=memory cgroup_memory=1",
                               "root=/dev/mmcblk0p2")
    assert pending.returncode == 1 and "kernel argument cgroup_enable=memory is not active" in pending.stderr
    booted = _run_ready_check(tmp_path, args, None, "root=/dev/mmcblk0p2 cgroup_enable=memory cgroup_memory=1")
    assert booted.returncode == 0, booted.stderr
    not_a_pi = _run_ready_check(tmp_path / "..", args, None, "root=/dev/sda1")  # no cmdline.txt at all
    assert not_a_pi.returncode == 0, not_a_pi.stderr


@pulumi.runtime.test
def test_a_pi_that_may_reboot_gets_the_kernel_argument_ready_check():
    from components.onboard import ready_check
    args = ("cgroup_enable=memory", "cgroup_memory=1")
    host = OnboardedHost("obpi", OnboardedHostArgs(address="10.50.0.61", ssh_user="pi", operator_user="lavender",
                                                   provision_script=SCRIPT, private_key=pulumi.Output.secret("k"),
                                                   kernel_args=args))

    def check(_):
        assert one("obpi-ready")["inputs"]["create"] == ready_check(args) != READY_CHECK

    return host.ready.id.apply(check)
