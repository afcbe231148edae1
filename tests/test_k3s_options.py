"""k3s options real clusters use: extra flags, flannel, external datastore, private registry, air-gap.

Rendered config.yaml and scripts as plain values, then the scripts for real in throwaway Debian
bookworm and trixie root filesystems (tests/rootfs.py), with the installer and curl as stand-ins
that record what they were asked: nothing may be fetched from the internet.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
from pathlib import Path

import jinja2
import pulumi
import pytest
import yaml

from components.k3s import flags, render
from tests.rootfs import SUITES, make_rootfs, run_in_rootfs
from tests.test_k3s_scripts import STANDIN, TOKEN, installer_calls, pin_standin, seed_installer
from tests.tools import require_tool

OLD = "v1.31.4+k3s1"
SERVER = render.NodeSettings("k3s-1", "server", {}, (), flannel_iface="ens18")
AGENT = render.NodeSettings("k3s-4", "agent", {}, (), flannel_iface="eth0",
                            extra_args=("--kubelet-arg=max-pods=150", "--kubelet-arg=image-gc-high-threshold=90",
                                        "--node-ip=192.168.30.14"))
SETTINGS = render.ServerSettings(
    cluster_cidr="10.42.0.0/16", service_cidr="10.43.0.0/16",
    flannel_backend="wireguard-native", external_datastore=True,
    extra_args=("--kube-apiserver-arg=audit-log-maxage=30", "--etcd-expose-metrics", "--cluster-domain=lab.local"),
)
DB_PASSWORD = "pw/with@odd:chars"
ENDPOINT = render.datastore_endpoint("postgres", "db.lab.lan", 5432, "k3s", "k3s", DB_PASSWORD, {"sslmode": "require"})
REGISTRIES = render.registries_yaml(
    {"docker.io": ["https://registry.lab.lan:5000"], "ghcr.io": ["https://registry.lab.lan:5000"]},
    {"registry.lab.lan:5000": render.RegistryLogin("k3s", "registry-secret-1", "/etc/ssl/lab-ca.crt")},
)
SERVER_FILES = {render.DATASTORE_DROP_IN: render.datastore_drop_in(ENDPOINT), render.REGISTRIES_FILE: REGISTRIES}


# --- flags ---------------------------------------------------------------------------------------

def test_known_flags_follow_k3s_help_and_typos_get_a_suggestion():
    assert flags.arg_problem("--kubelet-arg=max-pods=150", "agent") is None
    assert flags.arg_problem("--etcd-expose-metrics", "server") is None
    assert flags.arg_problem("--kubelet-args=max-pods=150", "agent") == (
        "--kubelet-args is not a k3s agent flag (k3s v1.31 `k3s agent --help`); did you mean --kubelet-arg?")
    # server-only flags are not agent flags; a server runs an agent, so agent flags are server flags
    assert "is not a k3s agent flag" in flags.arg_problem("--kube-apiserver-arg=x=1", "agent")
    assert flags.AGENT_FLAGS - flags.SERVER_FLAGS == {"disable-apiserver-lb"}
    assert {"flannel-iface", "kubelet-arg", "node-ip", "snapshotter"} <= flags.AGENT_FLAGS
    assert {"etcd-s3-config-secret", "supervisor-metrics", "embedded-registry"} <= flags.SERVER_FLAGS


def test_program_owned_and_credential_flags_are_refused_naming_the_flag_only():
    assert flags.arg_problem("--token=K10abc", "server") == (
        "--token carries a credential: it would sit in the install script in plain text")
    assert flags.arg_problem("--etcd-s3-secret-key=s3cr3t", "server").startswith("--etcd-s3-secret-key carries a credential")
    assert flags.arg_problem("--tls-san=x", "server") == "--tls-san is set by the program: use tls_san"
    for arg in ("--datastore-endpoint=postgres://u:s3cr3t@db/k3s", "--vpn-auth=name=tailscale,joinKey=s3cr3t"):
        assert "s3cr3t" not in flags.arg_problem(arg, "server")


def test_extra_args_become_config_keys_lists_for_repeatable_flags():
    assert flags.to_config(["--kubelet-arg=a=1", "--kubelet-arg=b=2", "--etcd-expose-metrics",
                            "--protect-kernel-defaults=false", "--cluster-domain=lab.local"]) == {
        "kubelet-arg": ["a=1", "b=2"], "etcd-expose-metrics": True, "protect-kernel-defaults": False,
        "cluster-domain": "lab.local"}
    with pytest.raises(ValueError, match="--tls-san is set by the program"):
        render.server_config(SERVER, render.ServerSettings("10.42.0.0/16", "10.43.0.0/16", extra_args=("--tls-san=x",)),
                             ["10.0.0.1"], None)


# --- config.yaml ------------------------------------------------------------------------------------

def test_server_with_options_renders_flannel_extras_and_no_etcd_with_an_external_datastore():
    for join in (None, "192.168.30.11"):  # first or joining server: the same, no cluster-init, no server
        config = render.server_config(SERVER, SETTINGS, ["192.168.30.11"], join)
        assert config == {
            "agent-token-file": "/etc/rancher/k3s/agent-token",  # agents join with their own token
            "cluster-cidr": "10.42.0.0/16", "service-cidr": "10.43.0.0/16", "secrets-encryption": True,
            "tls-san": ["192.168.30.11"], "write-kubeconfig-mode": "0600", "node-name": "k3s-1",
            "token-file": "/etc/rancher/k3s/cluster-token", "flannel-iface": "ens18",
            "flannel-backend": "wireguard-native", "kube-apiserver-arg": ["audit-log-maxage=30"],
            "etcd-expose-metrics": True, "cluster-domain": "lab.local",
        }
    embedded = render.ServerSettings("10.42.0.0/16", "10.43.0.0/16")
    assert render.server_config(SERVER, embedded, ["10.0.0.1"], None)["cluster-init"] is True
    assert render.server_config(SERVER, embedded, ["10.0.0.1"], "10.0.0.1")["server"] == "https://10.0.0.1:6443"


def test_agent_with_options_renders_its_flags_and_interface():
    assert render.agent_config(AGENT, "192.168.30.11") == {
        "node-name": "k3s-4", "token-file": "/etc/rancher/k3s/cluster-token", "flannel-iface": "eth0",
        "kubelet-arg": ["max-pods=150", "image-gc-high-threshold=90"], "node-ip": ["192.168.30.14"],
        "server": "https://192.168.30.11:6443",
    }


def test_datastore_endpoints_in_the_forms_k3s_documents():
    assert ENDPOINT == "postgres://k3s:pw%2Fwith%40odd%3Achars@db.lab.lan:5432/k3s?sslmode=require"
    assert render.datastore_endpoint("mysql", "10.0.0.5", 3306, "k3s", "k3s", "pw", {}) == \
        "mysql://k3s:pw@tcp(10.0.0.5:3306)/k3s"
    assert yaml.safe_load(render.datastore_drop_in(ENDPOINT)) == {"datastore-endpoint": ENDPOINT}


def test_registries_yaml_in_the_documented_shape():
    assert yaml.safe_load(REGISTRIES) == {
        "mirrors": {"docker.io": {"endpoint": ["https://registry.lab.lan:5000"]},
                    "ghcr.io": {"endpoint": ["https://registry.lab.lan:5000"]}},
        "configs": {"registry.lab.lan:5000": {"auth": {"username": "k3s", "password": "registry-secret-1"},
                                              "tls": {"ca_file": "/etc/ssl/lab-ca.crt"}}},
    }


def test_secrets_travel_on_stdin_and_never_in_the_script():
    script = render.install_script(SERVER, OLD, render.server_config(SERVER, SETTINGS, ["10.0.0.1"], None),
                                   secret_files=tuple(SERVER_FILES))
    for secret in (DB_PASSWORD, "pw%2Fwith", "registry-secret-1", ENDPOINT):
        assert secret not in script
    payload = render.stdin_payload(TOKEN, SERVER_FILES)
    first, *rest = payload.splitlines()
    assert first == TOKEN
    assert {line.split(" ")[0]: base64.b64decode(line.split(" ")[1]).decode() for line in rest} == SERVER_FILES
    assert render.stdin_payload(TOKEN, {}) == TOKEN  # no files: the token alone, as before


# --- defaults render what the code rendered before the options existed ------------------------------

def _template_without_options() -> str:
    """install.sh.j2 with each option block reduced to its default branch: what the template was."""
    source = (render.SCRIPTS_DIR / "install.sh.j2").read_text()
    source, airgap = re.subn(r"\{% if airgap %\}.*?\{% else %\}(.*?)\{% endif %\}", r"\1", source, flags=re.S)
    source, token = re.subn(r"\{% if secret_files -%\}.*?\{% else -%\}\n(.*?)\{% endif -%\}\n", r"\1", source,
                            flags=re.S)
    source, files = re.subn(r"\{% if secret_files -%\}.*?\{% endif %\}", "", source, flags=re.S)
    assert (airgap, token, files) == (1, 1, 1)
    assert "airgap" not in source and "secret_files" not in source
    return source


@pytest.mark.parametrize("role", ["server", "agent"])
def test_without_options_the_install_script_is_byte_for_byte_the_optionless_template(role, monkeypatch):
    node = render.NodeSettings("k3s-1", role, {"a": "1"}, ("x=1:NoSchedule",))
    settings = render.ServerSettings("10.42.0.0/16", "10.43.0.0/16", ("traefik",), ("k3s.lan",))
    config = (render.server_config(node, settings, ["10.0.0.1"], None) if role == "server"
              else render.agent_config(node, "10.0.0.1"))
    # The variables install_script gives the template (other options add their own), recorded.
    given: dict = {}
    template = render._ENV.get_template("install.sh.j2")

    class Recording:
        def render(self, **context):
            given.update(context)
            return template.render(**context)

    monkeypatch.setattr(render._ENV, "get_template", lambda name: Recording())
    script = render.install_script(node, OLD, config)
    monkeypatch.undo()
    assert given["secret_files"] == [] and given["airgap"] is None
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    env.filters.update(render._ENV.filters)
    assert script == env.from_string(_template_without_options()).render(**given)
    assert set(config) & {"flannel-backend", "flannel-iface", "datastore-endpoint", "kubelet-arg"} == set()


# --- for real --------------------------------------------------------------------------------------

CURL_STANDIN = """#!/bin/sh
# curl stand-in: copies file:// URLs (the test's mirror) and refuses anything else, logging every URL.
out=""; url=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out=$2; shift ;; -*) ;; *) url=$1 ;; esac
  shift
done
echo "$url" >>/var/log/curl-standin.log
case "$url" in file://*) cp "${url#file://}" "$out" ;; *) exit 22 ;; esac
"""


def _binary_standin(version: str) -> str:
    """The k3s binary the mirror serves: a stand-in that reports its version and answers the
    readiness query, like the one the installer stand-in leaves."""
    return ("#!/bin/sh\n"
            "case \"$1\" in\n"
            f"  --version) echo \"k3s version {version} (0123abcd)\" ;;\n"
            "  kubectl) echo \"$*\" >>/var/log/k3s-kubectl-standin.log; echo True ;;\n"
            "  *) echo \"k3s stand-in: unsupported $*\" >&2; exit 1 ;;\n"
            "esac\n")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=SUITES)
def root(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    pin_standin(monkeypatch)
    rootfs = make_rootfs(tmp_path, request.param)
    seed_installer(rootfs, OLD)
    return rootfs


def _run(root: Path, script: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return run_in_rootfs(root, script, stdin=stdin)


@pytest.mark.system
def test_rendered_option_scripts_pass_shellcheck(tmp_path: Path) -> None:
    require_tool("shellcheck")
    airgap = render.Airgap("https://mirror.lab.lan/k3s", "a" * 64, {"amd64": "b" * 64, "arm64": "c" * 64},
                           {"amd64": "d" * 64})
    scripts = {
        "server.sh": render.install_script(SERVER, OLD, render.server_config(SERVER, SETTINGS, ["10.0.0.1"], None),
                                           secret_files=tuple(SERVER_FILES), airgap=airgap),
        "agent.sh": render.install_script(AGENT, OLD, render.agent_config(AGENT, "10.0.0.1"),
                                          secret_files=(render.REGISTRIES_FILE,), airgap=airgap),
    }
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
    result = subprocess.run(["shellcheck", "--severity=style", *(str(tmp_path / n) for n in scripts)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


@pytest.mark.system
def test_server_with_external_datastore_and_registry_writes_secret_files_from_stdin(root: Path) -> None:
    config = render.server_config(SERVER, SETTINGS, ["192.168.30.11"], None)
    script = render.install_script(SERVER, OLD, config, ready_timeout=30, secret_files=tuple(SERVER_FILES))
    first = _run(root, script, render.stdin_payload(TOKEN, SERVER_FILES))
    assert first.returncode == 0, first.stderr
    written = yaml.safe_load((root / "etc/rancher/k3s/config.yaml").read_text())
    assert written == config and "cluster-init" not in written
    for path, text in SERVER_FILES.items():
        assert (root / path.lstrip("/")).read_text() == text
        assert (root / path.lstrip("/")).stat().st_mode & 0o777 == 0o600
    assert (root / "etc/rancher/k3s/cluster-token").read_text() == TOKEN
    (call,) = installer_calls(root)
    assert call["INSTALL_K3S_EXEC"] == "server" and "INSTALL_K3S_SKIP_DOWNLOAD" not in call
    log = (root / "var/log/k3s-installer-standin.log").read_text()
    assert DB_PASSWORD not in log and "registry-secret-1" not in log

    again = _run(root, script, render.stdin_payload(TOKEN, SERVER_FILES))
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout and len(installer_calls(root)) == 1

    # a new datastore password, then a new registry password: the file changes, k3s restarts
    # without a download (each file counts, whatever its place among the files)
    new_endpoint = ENDPOINT.replace("pw%2Fwith", "rotated")
    rotated = {**SERVER_FILES, render.DATASTORE_DROP_IN: render.datastore_drop_in(new_endpoint)}
    for expected_calls, files in ((2, rotated), (3, {**rotated, render.REGISTRIES_FILE: REGISTRIES.replace(
            "registry-secret-1", "registry-secret-2")})):
        restart = _run(root, script, render.stdin_payload(TOKEN, files))
        assert restart.returncode == 0, restart.stderr
        calls = installer_calls(root)
        assert len(calls) == expected_calls and calls[-1]["INSTALL_K3S_SKIP_DOWNLOAD"] == "true"
        assert calls[-1]["INSTALL_K3S_FORCE_RESTART"] == "true"
    assert new_endpoint in (root / render.DATASTORE_DROP_IN.lstrip("/")).read_text()
    assert "registry-secret-2" in (root / "etc/rancher/k3s/registries.yaml").read_text()

    # stdin without the files the script expects: refused, nothing changed
    missing = _run(root, script, render.stdin_payload(TOKEN, {render.REGISTRIES_FILE: REGISTRIES}))
    assert missing.returncode != 0
    assert f"no {render.DATASTORE_DROP_IN} on stdin" in missing.stderr


def _mirror(root: Path, binary: bytes) -> tuple[render.Airgap, bytes]:
    mirror = root / "srv/mirror"
    mirror.mkdir(parents=True)
    images = b"\x28\xb5\x2f\xfd not really zstd: airgap images stand-in\n"
    installer = STANDIN.read_bytes()
    (mirror / "install.sh").write_bytes(installer)
    (mirror / "k3s").write_bytes(binary)
    (mirror / "k3s-airgap-images-amd64.tar.zst").write_bytes(images)
    curl = root / "usr/local/bin/curl"
    curl.write_text(CURL_STANDIN)
    curl.chmod(0o755)
    airgap = render.Airgap("file:///srv/mirror/", _sha(installer), {"amd64": _sha(binary), "arm64": "0" * 64},
                           {"amd64": _sha(images)})
    return airgap, images


@pytest.mark.system
def test_airgapped_install_takes_pinned_binary_images_and_installer_from_the_mirror_only(root: Path) -> None:
    for cached in (root / "var/lib/homelab/k3s").glob("install-*.sh"):
        cached.unlink()  # the air-gapped install must fetch (and verify) its own installer
    binary = _binary_standin(OLD).encode()
    airgap, images = _mirror(root, binary)
    script = render.install_script(AGENT, OLD, render.agent_config(AGENT, "192.168.30.11"), ready_timeout=30,
                                   airgap=airgap)
    first = _run(root, script, TOKEN)
    assert first.returncode == 0, first.stderr
    # the agent's own options reach its config.yaml (flannel interface, kubelet args, node IP)
    assert yaml.safe_load((root / "etc/rancher/k3s/config.yaml").read_text()) == render.agent_config(
        AGENT, "192.168.30.11")
    assert (root / "usr/local/bin/k3s").read_bytes() == binary
    assert (root / "usr/local/bin/k3s").stat().st_mode & 0o777 == 0o755
    assert (root / "var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst").read_bytes() == images
    (call,) = installer_calls(root)
    assert call["INSTALL_K3S_SKIP_DOWNLOAD"] == "true" and call["INSTALL_K3S_VERSION"] == OLD
    fetched = (root / "var/log/curl-standin.log").read_text().split()
    assert fetched == ["file:///srv/mirror/install.sh", "file:///srv/mirror/k3s",
                       "file:///srv/mirror/k3s-airgap-images-amd64.tar.zst"]
    assert "node Ready" in first.stdout


@pytest.mark.system
def test_airgapped_upgrade_refuses_a_binary_that_does_not_match_its_pin(root: Path) -> None:
    binary = _binary_standin(OLD).encode()
    airgap, _ = _mirror(root, binary)
    assert _run(root, render.install_script(AGENT, OLD, render.agent_config(AGENT, "10.0.0.1"), ready_timeout=30,
                                            airgap=airgap), TOKEN).returncode == 0
    new = "v1.32.1+k3s1"
    seed_installer(root, new)
    (root / "srv/mirror/k3s").write_bytes(_binary_standin(new).encode())  # the mirror changed under the pin
    upgrade = _run(root, render.install_script(AGENT, new, render.agent_config(AGENT, "10.0.0.1"), ready_timeout=30,
                                               airgap=airgap), TOKEN)
    assert upgrade.returncode != 0
    assert f"file:///srv/mirror/k3s does not have the pinned sha256 {airgap.binaries['amd64']}" in upgrade.stderr
    assert (root / "usr/local/bin/k3s").read_bytes() == binary  # the running version is untouched
    assert len(installer_calls(root)) == 1


# --- the policy pack ---------------------------------------------------------------------------------

def test_policy_allows_an_even_number_of_servers_only_with_an_external_datastore():
    from policy import rules
    from tests.test_policy import res

    def cluster(external: bool) -> list:
        settings = render.ServerSettings("10.42.0.0/16", "10.43.0.0/16", external_datastore=external)
        files = (render.DATASTORE_DROP_IN,) if external else ()
        parent = res("homelab:k3s:Cluster", "lab", {})
        nodes = [parent]
        for i, join in enumerate((None, "10.0.0.1")):
            node = render.NodeSettings(f"s{i}", "server")
            script = render.install_script(node, OLD, render.server_config(node, settings, ["10.0.0.1"], join),
                                           secret_files=files)
            nodes.append(res(rules.COMMAND_REMOTE, f"lab-server-s{i}", {"create": script, "stdin": "[secret]"},
                             parent=parent.urn))
        return nodes

    assert list(rules.k3s_odd_servers(cluster(external=True))) == []
    (found,) = rules.k3s_odd_servers(cluster(external=False))
    assert "has 2 servers" in found[1]


# --- wiring ----------------------------------------------------------------------------------------

@pulumi.runtime.test
def test_a_mirror_only_registry_needs_no_password_and_stays_secret():
    from stacks import k3s as wiring
    from stacks.config.k3s import K3sCluster

    spec = K3sCluster(name="lab", version=OLD, servers=("s1",),
                      registry={"mirrors": {"docker.io": ["https://registry.lab.lan:5000"]}})
    text = wiring._registries(spec, secrets=None)  # no login: no secret is read

    def check(args):
        value, secret = args
        assert secret
        assert yaml.safe_load(value) == {"mirrors": {"docker.io": {"endpoint": ["https://registry.lab.lan:5000"]}}}

    return pulumi.Output.all(text, pulumi.Output.from_input(text).is_secret()).apply(check)


def test_an_airgapped_install_needs_at_least_one_pinned_binary():
    import pydantic

    from stacks.config.k3s import Airgap

    with pytest.raises(pydantic.ValidationError, match="binaries"):
        Airgap(url="https://mirror.lab.lan/k3s", installer_sha256="a" * 64, binaries={})
    assert Airgap(url="https://mirror.lab.lan/k3s", installer_sha256="a" * 64, binaries={"arm64": "b" * 64})
