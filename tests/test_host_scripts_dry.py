"""Host-script guarantees without root: a plain `make test` runs provision.sh and the k3s install
script in a dry run (tests/dryrun.py: paths under a temporary root, recording stand-ins for the
system commands) and shellchecks every script the synth renders. The root-filesystem tests
(test_cloudinit_script, test_k3s_scripts) run the same scripts for real where root is available.

What is checked here, in the order of the calls the scripts make:
- the sudoers file is checked by `visudo -cqf` on its temporary copy before that copy is moved into
  place, and a file visudo rejects is never installed;
- the sshd drop-in is tested with `sshd -t` before the daemon is reloaded, and a config sshd rejects
  is never reloaded;
- a second run with the same definition changes nothing and calls no package manager, user tool,
  visudo, sshd or systemctl;
- root's key login: off for hosts reached as the operator, kept for hosts provisioned as root;
- k3s: the installer runs only with its pinned sha256, then the installed version is checked
  against the pinned one (another version fails with the message), then readiness; a second run
  runs no installer.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from cloudinit.render import HostsEntry, ProvisionSpec, provision_script
from components.catalog import CATALOG
from tests.conftest import ENVIRONMENTS
from tests.dryrun import DryHost, index_of
from tests.helpers import some
from components.k3s import installers, render
from tests.test_k3s_scripts import AGENT_TOKEN, NEW, OLD, STANDIN, TOKEN, AGENT_PASSWORD, agent_script, server_script
from tests.tools import require_tool

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"
SUDOERS = "/etc/sudoers.d/90-homelab-lavender"
DROP_IN = "/etc/ssh/sshd_config.d/01-homelab.conf"
# What a second run must not ask of the host.
SIDE_EFFECTS = r"^(apt-get|dnf|useradd|usermod|visudo|sshd|systemctl|hostnamectl|hostname|mv|shutdown) "


def spec(distribution: str = "debian12", **changes) -> ProvisionSpec:
    values = dict(distribution=CATALOG[distribution], user="lavender", ssh_authorized_keys=(KEY,),
                  timezone="Europe/Amsterdam", hostname="pippin", fqdn="pippin.lothlorien.lan", roles=("k3s",),
                  hosts_entries=(HostsEntry("10.50.0.11", ("arwen.lothlorien.lan", "arwen")),))
    values.update(changes)
    return ProvisionSpec(**values)


def host(tmp_path: Path, timezone: str = "Europe/Amsterdam") -> DryHost:
    """A fresh systemd host with sshd and its drop-in folder, as a cloud image boots."""
    dry = DryHost(tmp_path)
    dry.file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
    dry.file("/etc/group", "root:x:0:\nsudo:x:27:\nwheel:x:10:\n")
    dry.file("/etc/hosts", "127.0.0.1\tlocalhost\n")
    dry.file(f"/usr/share/zoneinfo/{timezone}", "TZif")
    dry.file("/proc/cmdline", "console=tty1 root=/dev/sda1\n")
    for folder in ("/etc/ssh/sshd_config.d", "/etc/sudoers.d", "/run/systemd/system", "/root"):
        (dry.root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return dry


def provision(dry: DryHost, script: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    done = dry.run(dry.relocate(script), env=env)
    return done, dry.calls()


def assert_checked_then_installed(calls: list[str], check: str, path: str) -> None:
    """`check` ran on the temporary copy that the next move put at `path`."""
    moved = index_of(calls, rf"^mv -f \S+ {re.escape(path)}$")
    temporary = calls[moved].split()[2]
    checked = index_of(calls, rf"^{check} {re.escape(temporary)}$")
    assert checked < moved, calls


# --- provision.sh ------------------------------------------------------------------------------------

@pytest.mark.parametrize("distribution", ["debian12", "rocky9"])
def test_provision_checks_sudoers_and_sshd_before_they_take_effect_then_changes_nothing(tmp_path, distribution):
    dry = host(tmp_path)
    script = provision_script(spec(distribution), disable_root=True)
    first, calls = provision(dry, script)
    assert first.returncode == 0, first.stderr
    # the operator in the admin group, the packages installed
    assert index_of(calls, r"^useradd --create-home --shell /bin/bash --groups (sudo|wheel) lavender$") >= 0
    index_of(calls, r"^(apt-get install|dnf -y -q install) .*\bsudo\b")
    # sudoers: visudo on the temporary file, then the move into place
    assert_checked_then_installed(calls, "visudo -cqf", SUDOERS)
    assert (dry.root / SUDOERS.lstrip("/")).read_text() == "lavender ALL=(ALL) NOPASSWD:ALL\n"
    # sshd: the drop-in in place, then `sshd -t`, then the reload
    moved = index_of(calls, rf"^mv -f \S+ {re.escape(DROP_IN)}$")
    tested = index_of(calls, r"^sshd -t$", moved)
    index_of(calls, r"^systemctl reload sshd?$", tested)
    assert (dry.root / DROP_IN.lstrip("/")).read_text() == (
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n")
    assert (dry.root / "home/lavender/.ssh/authorized_keys").read_text() == KEY + "\n"
    assert not (dry.root / "root/.ssh/authorized_keys").exists()
    # the role's kernel modules load now, on a running system
    index_of(calls, r"^systemctl restart systemd-modules-load.service$")

    second, calls = provision(dry, script)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "no changes\n"
    assert [c for c in calls if re.match(SIDE_EFFECTS, c)] == []


def test_a_sudoers_file_visudo_rejects_is_never_installed(tmp_path):
    dry = host(tmp_path)
    done, calls = provision(dry, provision_script(spec()), DRY_VISUDO_REJECTS="1")
    assert done.returncode != 0
    assert f"refused {dry.root}{SUDOERS}" in done.stderr
    index_of(calls, r"^visudo -cqf ")
    assert not [c for c in calls if c.endswith(" " + SUDOERS)], calls
    assert not (dry.root / SUDOERS.lstrip("/")).exists()
    assert [p.name for p in (dry.root / "etc/sudoers.d").iterdir()] == [], "a temporary sudoers file was left"


def test_a_config_sshd_rejects_is_never_reloaded(tmp_path):
    dry = host(tmp_path)
    done, calls = provision(dry, provision_script(spec()), DRY_SSHD_REJECTS="1")
    assert done.returncode != 0
    index_of(calls, r"^sshd -t$")
    assert [c for c in calls if c.startswith("systemctl reload")] == []


def test_hosts_provisioned_as_root_keep_roots_key_login_and_get_the_keys(tmp_path):
    dry = host(tmp_path)
    done, _ = provision(dry, provision_script(spec(), disable_root=False))
    assert done.returncode == 0, done.stderr
    assert "PermitRootLogin prohibit-password\n" in (dry.root / DROP_IN.lstrip("/")).read_text()
    assert (dry.root / "root/.ssh/authorized_keys").read_text() == KEY + "\n"


def committed_provision_scripts(synth_result, env: str) -> dict[str, str]:
    return some({path: text for path, text in synth_result(env).artifacts.items()
                 if re.fullmatch(r"scripts/.+-provision\.stdin\.sh", path)}.items(), f"{env}: provision scripts")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_committed_hosts_provisioning_checks_before_it_installs_and_is_idempotent(env, synth_result, tmp_path):
    """The scripts the synth renders for the committed environments, each on a fresh dry host."""
    for path, script in committed_provision_scripts(synth_result, env):
        timezone = re.search(r"^PROVISION_TIMEZONE=(\S+)$", script, re.M).group(1).strip("'")
        dry = host(tmp_path / Path(path).stem, timezone)
        first, calls = provision(dry, script)
        assert first.returncode == 0, f"{path}: {first.stderr}"
        user = re.search(r"^PROVISION_USER=(\S+)$", script, re.M).group(1).strip("'")
        assert_checked_then_installed(calls, "visudo -cqf", f"/etc/sudoers.d/90-homelab-{user}")
        index_of(calls, r"^sshd -t$", index_of(calls, rf"^mv -f \S+ {re.escape(DROP_IN)}$"))
        second, calls = provision(dry, script)
        assert (second.returncode, second.stdout) == (0, "no changes\n"), f"{path}: {second.stdout}{second.stderr}"
        assert [c for c in calls if re.match(SIDE_EFFECTS, c)] == [], path


# --- the k3s install script ---------------------------------------------------------------------------

NOT_ROOT = {'[[ $EUID -eq 0 ]] || die "must run as root"': ":  # dry run: not root"}


REAL_INSTALLER = installers.INSTALLERS[OLD]


def k3s_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch | None = None) -> DryHost:
    """A host without k3s; whatever URL `curl` is asked, it serves the installer stand-in
    (tests/fixtures/k3s, relocated). With `monkeypatch`, the scripts are rendered with the stand-in's
    sha256 as the pin, as test_k3s_scripts does; without, the real pin of k3s's install.sh stays."""
    dry = DryHost(tmp_path)
    for folder in ("/usr/local/bin", "/var/log", "/var/lib"):
        (dry.root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
    standin = dry.relocate(STANDIN.read_text())
    (dry.state / "download").write_text(standin)
    if monkeypatch is not None:
        pinned = installers.Installer(REAL_INSTALLER.commit, hashlib.sha256(standin.encode()).hexdigest())
        monkeypatch.setattr(installers, "INSTALLERS", {version: pinned for version in installers.INSTALLERS})
    return dry


def k3s_stdin(dry: DryHost, script) -> str:
    """A server's token and the agents' token file (at its path under the dry root); an agent's token."""
    if script is server_script:
        return render.stdin_payload(TOKEN, {f"{dry.root}{render.AGENT_TOKEN_FILE}": AGENT_PASSWORD})
    return AGENT_TOKEN


@pytest.mark.parametrize("script", [server_script, agent_script], ids=["server", "agent"])
def test_k3s_installs_then_checks_the_pinned_version_then_waits_and_a_rerun_installs_nothing(tmp_path, script,
                                                                                           monkeypatch):
    dry = k3s_host(tmp_path, monkeypatch)
    text = dry.relocate(script(), NOT_ROOT)
    stdin = k3s_stdin(dry, script)
    first = dry.run(text, stdin)
    assert first.returncode == 0, first.stderr
    calls = dry.calls()
    fetched = index_of(calls, r"^curl .* -o /var/lib/homelab/k3s/install-v1\.31\.4\+k3s1\.sh\.part ")
    index_of(calls, rf"^sh /var/lib/homelab/k3s/install-{re.escape(OLD)}\.sh$", fetched)
    assert f"k3s[{'k3s-1' if script is server_script else 'k3s-4'}]: node Ready" in first.stdout
    assert (dry.root / "var/log/k3s-kubectl-standin.log").read_text().count("get node") == 1

    second = dry.run(text, stdin)
    assert second.returncode == 0, second.stderr
    assert f"{OLD} already installed with these settings: nothing to do" in second.stdout
    assert [c for c in dry.calls() if c.startswith(("sh ", "curl "))] == []


@pytest.mark.parametrize("script", [server_script, agent_script], ids=["server", "agent"])
def test_k3s_fails_when_the_installer_leaves_another_version(tmp_path, script, monkeypatch):
    dry = k3s_host(tmp_path, monkeypatch)
    dry.file("/var/lib/k3s-standin-installs", NEW + "\n")
    stdin = k3s_stdin(dry, script)
    done = dry.run(dry.relocate(script(), NOT_ROOT), stdin)
    assert done.returncode != 0, done.stdout
    assert f"installed version is {NEW}, expected {OLD}" in done.stderr
    index_of(dry.calls(), rf"^sh /var/lib/homelab/k3s/install-{re.escape(OLD)}\.sh$")  # the check came after it
    assert not (dry.root / "var/log/k3s-kubectl-standin.log").exists(), "reported ready on the wrong version"


@pytest.mark.parametrize("script", [server_script, agent_script], ids=["server", "agent"])
def test_an_installer_without_the_pinned_sha256_is_never_run(tmp_path, script):
    """Rendered with the real pin of k3s's install.sh, the node downloads the stand-in: the script
    stops with the message before `sh` runs anything, and leaves no partial download."""
    dry = k3s_host(tmp_path)
    done = dry.run(dry.relocate(script(), NOT_ROOT), k3s_stdin(dry, script))
    assert done.returncode != 0, done.stdout
    assert f"{REAL_INSTALLER.url} does not have the pinned sha256 {REAL_INSTALLER.sha256}" in done.stderr
    calls = dry.calls()
    index_of(calls, rf"^curl .* {re.escape(REAL_INSTALLER.url)}$")
    assert [c for c in calls if c.startswith("sh ")] == [] and not (dry.root / "usr/local/bin/k3s").exists()
    assert not list((dry.root / "var/lib/homelab/k3s").glob("*"))


# --- shellcheck on every script the synth renders -------------------------------------------------------

@pytest.mark.system
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_script_the_synth_renders_passes_shellcheck(env, synth_result, tmp_path):
    """Standalone scripts as written; a command line (`[sudo ...] bash -c SCRIPT`) by its script."""
    shellcheck = require_tool("shellcheck")
    paths = []
    for path, text in some(((p, t) for p, t in synth_result(env).artifacts.items() if p.endswith(".sh")),
                           f"{env}: rendered scripts"):
        script = text if text.startswith("#!") else shlex.split(text)[-1]
        assert script.startswith("#!"), f"{path}: neither a script nor a command line running one"
        target = tmp_path / path.replace("/", "_")
        target.write_text(script)
        paths.append(str(target))
    assert len(paths) > 20, paths
    done = subprocess.run([shellcheck, "--severity=style", *paths], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout
