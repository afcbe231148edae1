"""The k3s node scripts, for real: shellcheck, then runs inside throwaway Debian bookworm and trixie
root filesystems (tests/rootfs.py) where the k3s installer is a stand-in that records what it was asked
(tests/fixtures/k3s/installer-standin.sh) — the real one downloads a binary, which cannot happen here.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml

from components.k3s import installers, render
from tests.rootfs import SUITES, make_rootfs, run_in_rootfs
from tests.tools import require_tool

STANDIN = Path(__file__).parent / "fixtures" / "k3s" / "installer-standin.sh"
TOKEN = "K10-test-token-5f2b9c1e7d"
AGENT_PASSWORD = "agent-password-93be1f"
CA = "K10" + "3f" * 32
# A server gets the server token, then the agents' token as a secret file (render.stdin_payload).
SERVER_STDIN = render.stdin_payload(TOKEN, {render.AGENT_TOKEN_FILE: AGENT_PASSWORD})
AGENT_TOKEN = f"{CA}::node:{AGENT_PASSWORD}"
OLD, NEW = "v1.31.4+k3s1", "v1.32.1+k3s1"
SETTINGS = render.ServerSettings(
    cluster_cidr="10.42.0.0/16",
    service_cidr="10.43.0.0/16",
    disable=("traefik", "servicelb"),
    tls_san=("k3s.example.lan", "192.168.30.5"),
)
SERVER = render.NodeSettings("k3s-1", "server", {"homelab.io/tier": "control"}, ("dedicated=control:NoSchedule",))
AGENT = render.NodeSettings("k3s-4", "agent", {"homelab.io/tier": "worker"})


def server_script(version: str = OLD, settings: render.ServerSettings = SETTINGS, timeout: int = 30) -> str:
    config = render.server_config(SERVER, settings, ["192.168.30.11", "192.168.30.12", "192.168.30.13"], None)
    return render.install_script(SERVER, version, config, ready_timeout=timeout,
                                 secret_files=(render.AGENT_TOKEN_FILE,))


def agent_script(version: str = OLD) -> str:
    return render.install_script(AGENT, version, render.agent_config(AGENT, "192.168.30.11"), ready_timeout=30)


def rendered_scripts() -> dict[str, str]:
    joiner = render.server_config(SERVER, SETTINGS, ["192.168.30.11"], "192.168.30.11")
    return {
        "server-init.sh": server_script(),
        "server-join.sh": render.install_script(SERVER, OLD, joiner, secret_files=(render.AGENT_TOKEN_FILE,)),
        "agent.sh": agent_script(),
        "server-uninstall.sh": render.uninstall_script(SERVER),
        "agent-uninstall.sh": render.uninstall_script(AGENT),
    }


@pytest.mark.system
def test_rendered_scripts_pass_shellcheck(tmp_path: Path) -> None:
    require_tool("shellcheck")
    paths = []
    for name, text in rendered_scripts().items():
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    paths.append(str(render.SCRIPTS_DIR / render.PROVIDER_CREDENTIAL_SCRIPT))  # static, not rendered
    result = subprocess.run(["shellcheck", "--severity=style", *paths], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("name", sorted(rendered_scripts()))
def test_scripts_are_strict_bash_and_carry_no_token(name: str) -> None:
    text = rendered_scripts()[name]
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert TOKEN not in text and AGENT_PASSWORD not in text


# The real rows pin k3s's install.sh, which the root-filesystem runs never download: there the
# seeded stand-in is the installer, so its checksum is what the scripts are rendered with.
REAL_INSTALLER = installers.INSTALLERS[OLD]
STANDIN_SHA256 = hashlib.sha256(STANDIN.read_bytes()).hexdigest()


def pin_standin(monkeypatch: pytest.MonkeyPatch) -> None:
    standin = installers.Installer(REAL_INSTALLER.commit, STANDIN_SHA256)
    monkeypatch.setattr(installers, "INSTALLERS", {version: standin for version in installers.INSTALLERS})


def seed_installer(root: Path, version: str) -> None:
    cache = root / "var/lib/homelab/k3s"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"install-{version}.sh").write_text(STANDIN.read_text())


def installer_calls(root: Path) -> list[dict[str, str]]:
    log = root / "var/log/k3s-installer-standin.log"
    if not log.exists():
        return []
    calls: list[dict[str, str]] = []
    for line in log.read_text().splitlines():
        if line == "--- call":
            calls.append({})
        elif line.startswith("args: "):
            calls[-1]["args"] = line[len("args: "):]
        else:
            key, _, value = line.partition("=") if "=" in line.split(":")[0] else line.partition(": ")
            calls[-1][key] = value
    return calls


def run(root: Path, script: str, token: str | None = SERVER_STDIN) -> subprocess.CompletedProcess[str]:
    return run_in_rootfs(root, script, stdin=token)


@pytest.fixture(params=SUITES)
def root(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    pin_standin(monkeypatch)
    rootfs = make_rootfs(tmp_path, request.param)
    seed_installer(rootfs, OLD)
    seed_installer(rootfs, NEW)
    return rootfs


@pytest.mark.system
def test_server_first_run_installs_pinned_version_second_run_does_nothing_delete_uninstalls(root: Path) -> None:
    first = run(root, server_script())
    assert first.returncode == 0, first.stderr

    config = yaml.safe_load((root / "etc/rancher/k3s/config.yaml").read_text())
    assert config == {
        "agent-token-file": "/etc/rancher/k3s/agent-token",
        "cluster-cidr": "10.42.0.0/16",
        "cluster-init": True,
        "disable": ["servicelb", "traefik"],
        "node-label": ["homelab.io/tier=control"],
        "node-name": "k3s-1",
        "node-taint": ["dedicated=control:NoSchedule"],
        "secrets-encryption": True,
        "service-cidr": "10.43.0.0/16",
        "tls-san": ["k3s.example.lan", "192.168.30.5", "192.168.30.11", "192.168.30.12", "192.168.30.13"],
        "token-file": "/etc/rancher/k3s/cluster-token",
        "write-kubeconfig-mode": "0600",
    }
    token_file = root / "etc/rancher/k3s/cluster-token"
    assert token_file.read_text() == TOKEN
    assert token_file.stat().st_mode & 0o777 == 0o600
    agent_token_file = root / "etc/rancher/k3s/agent-token"
    assert agent_token_file.read_text() == AGENT_PASSWORD
    assert agent_token_file.stat().st_mode & 0o777 == 0o600
    assert (root / "etc/rancher/k3s/config.yaml").stat().st_mode & 0o777 == 0o600

    calls = installer_calls(root)
    assert len(calls) == 1
    assert calls[0]["INSTALL_K3S_VERSION"] == OLD
    assert calls[0]["INSTALL_K3S_EXEC"] == "server"
    assert "INSTALL_K3S_SKIP_DOWNLOAD" not in calls[0]
    assert calls[0]["args"] == ""
    assert TOKEN not in (root / "var/log/k3s-installer-standin.log").read_text()
    assert f"installing {OLD}" in first.stdout and "node Ready" in first.stdout
    assert "get node k3s-1" in (root / "var/log/k3s-kubectl-standin.log").read_text()

    config_mtime = (root / "etc/rancher/k3s/config.yaml").stat().st_mtime_ns
    second = run(root, server_script())
    assert second.returncode == 0, second.stderr
    assert len(installer_calls(root)) == 1
    assert "nothing to do" in second.stdout
    assert (root / "etc/rancher/k3s/config.yaml").stat().st_mtime_ns == config_mtime

    # delete: leave the cluster, then the server uninstall script
    removed = run(root, render.uninstall_script(SERVER), token=None)
    assert removed.returncode == 0, removed.stderr
    kubectl = (root / "var/log/k3s-kubectl-standin.log").read_text()
    assert "--kubeconfig /etc/rancher/k3s/k3s.yaml delete node k3s-1 --wait=false --request-timeout=20s" in kubectl
    assert (root / "var/log/k3s-uninstall-standin.log").read_text() == "k3s-uninstall.sh\n"
    assert not (root / "etc/rancher").exists()


@pytest.mark.system
def test_new_version_takes_the_upgrade_path_and_changed_settings_restart_without_download(root: Path) -> None:
    assert run(root, server_script(OLD)).returncode == 0

    upgrade = run(root, server_script(NEW))
    assert upgrade.returncode == 0, upgrade.stderr
    assert f"upgrading {OLD} -> {NEW}" in upgrade.stdout
    calls = installer_calls(root)
    assert [c["INSTALL_K3S_VERSION"] for c in calls] == [OLD, NEW]
    assert "INSTALL_K3S_SKIP_DOWNLOAD" not in calls[1]

    changed = SETTINGS.__class__(**{**SETTINGS.__dict__, "disable": ("traefik",)})
    restart = run(root, server_script(NEW, changed))
    assert restart.returncode == 0, restart.stderr
    calls = installer_calls(root)
    assert len(calls) == 3
    assert calls[2]["INSTALL_K3S_VERSION"] == NEW
    assert calls[2]["INSTALL_K3S_SKIP_DOWNLOAD"] == "true"
    assert calls[2]["INSTALL_K3S_FORCE_RESTART"] == "true"
    assert yaml.safe_load((root / "etc/rancher/k3s/config.yaml").read_text())["disable"] == ["traefik"]

    # another token on an installed node would break it: refused, nothing touched
    other = run(root, server_script(NEW, changed), token=render.stdin_payload("K10-another-token", {render.AGENT_TOKEN_FILE: AGENT_PASSWORD}))
    assert other.returncode != 0
    assert "the cluster token differs from the one this node joined with" in other.stderr
    assert (root / "etc/rancher/k3s/cluster-token").read_text() == TOKEN
    assert len(installer_calls(root)) == 3
    # ... but the same password in the secure format (a server that now joins with the CA pinned) is
    # the same token: written, and the server restarted with it
    secure = run(root, server_script(NEW, changed), token=render.stdin_payload(f"{CA}::server:{TOKEN}", {render.AGENT_TOKEN_FILE: AGENT_PASSWORD}))
    assert secure.returncode == 0, secure.stderr
    assert (root / "etc/rancher/k3s/cluster-token").read_text() == f"{CA}::server:{TOKEN}"
    assert installer_calls(root)[-1]["INSTALL_K3S_FORCE_RESTART"] == "true"
    # a server without the agent token on its second line is refused
    alone = run(root, server_script(NEW, changed), token=f"{TOKEN}\n")
    assert alone.returncode != 0 and "no /etc/rancher/k3s/agent-token on stdin" in alone.stderr


@pytest.mark.system
def test_agent_joins_with_token_file_uninstalls_clean_and_fails_without_token_or_readiness(root: Path) -> None:
    no_token = run(root, agent_script(), token="")
    assert no_token.returncode != 0
    assert "no cluster token on stdin" in no_token.stderr
    assert installer_calls(root) == []

    result = run(root, agent_script(), token=AGENT_TOKEN)
    assert result.returncode == 0, result.stderr
    assert (root / "etc/rancher/k3s/cluster-token").read_text() == AGENT_TOKEN
    assert not (root / "etc/rancher/k3s/agent-token").exists()
    # A changed agent token (the server token it once joined with, or a rotated agent token) is
    # taken and the agent restarted with it.
    rotated = run(root, agent_script(), token=f"{CA}::node:rotated-agent-password")
    assert rotated.returncode == 0, rotated.stderr
    assert installer_calls(root)[-1]["INSTALL_K3S_FORCE_RESTART"] == "true"
    assert run(root, agent_script(), token=AGENT_TOKEN).returncode == 0
    config = yaml.safe_load((root / "etc/rancher/k3s/config.yaml").read_text())
    assert config == {
        "node-label": ["homelab.io/tier=worker"],
        "node-name": "k3s-4",
        "server": "https://192.168.30.11:6443",
        "token-file": "/etc/rancher/k3s/cluster-token",
    }
    call = installer_calls(root)[0]
    assert call["INSTALL_K3S_EXEC"] == "agent" and call["INSTALL_K3S_VERSION"] == OLD
    kubectl = (root / "var/log/k3s-kubectl-standin.log").read_text()
    assert "--kubeconfig /var/lib/rancher/k3s/agent/kubelet.kubeconfig get node k3s-4" in kubectl

    removed = run(root, render.uninstall_script(AGENT), token=None)
    assert removed.returncode == 0, removed.stderr
    kubectl = (root / "var/log/k3s-kubectl-standin.log").read_text()
    assert "--kubeconfig /var/lib/rancher/k3s/agent/kubelet.kubeconfig delete node k3s-4 --wait=false --request-timeout=20s" in kubectl
    assert (root / "var/log/k3s-uninstall-standin.log").read_text() == "k3s-agent-uninstall.sh\n"
    assert not (root / "etc/rancher/k3s").exists()
    assert not (root / "var/lib/homelab").exists()
    assert not (root / "usr/local/bin/k3s").exists()

    again = run(root, render.uninstall_script(AGENT), token=None)
    assert again.returncode == 0, again.stderr
    assert "not installed" in again.stdout

    (root / "var/lib/k3s-standin-not-ready").write_text("")
    seed_installer(root, OLD)
    not_ready = run(root, server_script(timeout=1))
    assert not_ready.returncode != 0
    assert "node not Ready after 1s (last status: False)" in not_ready.stderr


CURL_SERVES_STANDIN = """#!/bin/sh
# curl stand-in: whatever URL it is asked, it writes the installer stand-in (an installer that is not
# the one pinned) and logs the URL.
out=""; url=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out=$2; shift ;; -*) ;; *) url=$1 ;; esac
  shift
done
echo "$url" >>/var/log/curl-standin.log
cp /opt/standin-installer.sh "$out"
"""


@pytest.mark.system
@pytest.mark.parametrize("script", [server_script, agent_script], ids=["server", "agent"])
def test_an_installer_without_the_pinned_sha256_is_never_run(root: Path, script) -> None:
    """Rendered with the real pin of k3s's install.sh, the node holds (cached) and downloads only the
    stand-in: the script stops with the message, the stand-in never runs, nothing is installed."""
    installers.INSTALLERS[OLD] = REAL_INSTALLER  # the fixture's stand-in pin, undone for this version
    (root / "opt").mkdir(exist_ok=True)
    (root / "opt/standin-installer.sh").write_text(STANDIN.read_text())
    curl = root / "usr/local/bin/curl"
    curl.write_text(CURL_SERVES_STANDIN)
    curl.chmod(0o755)
    done = run(root, script())
    assert done.returncode != 0, done.stdout
    assert f"{REAL_INSTALLER.url} does not have the pinned sha256 {REAL_INSTALLER.sha256}" in done.stderr
    assert (root / "var/log/curl-standin.log").read_text().split() == [REAL_INSTALLER.url]
    assert installer_calls(root) == [] and not (root / "usr/local/bin/k3s").exists()
    assert not list((root / "var/lib/homelab/k3s").glob("*.part"))


def test_rendering_is_deterministic_whatever_the_order_of_labels_and_taints():
    a = render.NodeSettings("k3s-1", "server", {"b": "2", "a": "1"}, ("z=1:NoSchedule", "a=1:NoExecute"))
    b = render.NodeSettings("k3s-1", "server", {"a": "1", "b": "2"}, ("a=1:NoExecute", "z=1:NoSchedule"))
    settings = render.ServerSettings("10.42.0.0/16", "10.43.0.0/16", ("traefik", "servicelb"))
    reordered = render.ServerSettings("10.42.0.0/16", "10.43.0.0/16", ("servicelb", "traefik"))
    first = render.install_script(a, OLD, render.server_config(a, settings, ["10.0.0.1"], None))
    again = render.install_script(b, OLD, render.server_config(b, reordered, ["10.0.0.1"], None))
    assert first == again
    assert "node-label:\n- a=1\n- b=2\n" in first and "node-taint:\n- a=1:NoExecute\n- z=1:NoSchedule\n" in first


def test_installer_is_pinned_by_commit_and_sha256_and_kubeconfig_rewrite_needs_a_cluster():
    script = server_script()
    assert (f"readonly INSTALLER_URL=https://raw.githubusercontent.com/k3s-io/k3s/{REAL_INSTALLER.commit}/install.sh\n"
            in script)
    assert f"readonly INSTALLER_SHA256={REAL_INSTALLER.sha256}\n" in script
    # the cached or downloaded installer is checked before `sh` runs it
    assert 'fetch_verified "$INSTALLER_URL" "$INSTALLER_SHA256" "$path"' in script
    with pytest.raises(ValueError, match=r"k3s v1\.29\.0\+k3s1 has no pinned installer checksum: add a row .* "
                                         r"components/k3s/installers\.py"):
        render.install_script(SERVER, "v1.29.0+k3s1", {})
    with pytest.raises(ValueError, match="not a release tag"):
        render.install_script(SERVER, "latest", {})
    with pytest.raises(ValueError, match="no clusters"):
        render.rewrite_kubeconfig("apiVersion: v1\nkind: Config\n", "https://10.0.0.1:6443", "x")


def test_config_yaml_from_libyaml_is_the_text_of_pythons_emitter():
    """config_yaml uses libyaml for speed; the text must not depend on which emitter PyYAML has."""
    node = render.NodeSettings(SERVER.name, SERVER.role, labels={"homelab.io/board": "raspberry-pi-4", "tier": "edge"},
                               taints=("homelab.io/pi=true:NoSchedule",))
    config = render.server_config(node, SETTINGS, ["192.168.30.11", "k3s.lan", "10.0.0.1"], "192.168.30.11")
    assert render.config_yaml(config) == yaml.safe_dump(dict(config), sort_keys=True, default_flow_style=False)


def test_provider_kubeconfig_carries_a_token_not_the_expiring_admin_certificate():
    """Day 2: k3s renews k3s.yaml's client certificate on disk about yearly; the provider's copy in
    the state would then fail with x509 errors. It gets a ServiceAccount token instead."""
    from synth.mocks import k3s_kubeconfig

    text = k3s_kubeconfig("k3s-1") + "---\ntoken: eyJhbGciOiJSUzI1NiJ9.abc\n"
    doc = yaml.safe_load(render.token_kubeconfig(text, "https://10.0.0.1:6443", "lab"))
    assert doc["users"] == [{"name": "lab", "user": {"token": "eyJhbGciOiJSUzI1NiJ9.abc"}}]
    assert doc["clusters"][0]["cluster"]["server"] == "https://10.0.0.1:6443"
    assert doc["clusters"][0]["cluster"]["certificate-authority-data"]
    with pytest.raises(ValueError, match="no token"):
        render.token_kubeconfig(k3s_kubeconfig("k3s-1"), "https://10.0.0.1:6443", "lab")
    script = (render.SCRIPTS_DIR / render.PROVIDER_CREDENTIAL_SCRIPT).read_text()
    assert "type: kubernetes.io/service-account-token" in script and "name: cluster-admin" in script
