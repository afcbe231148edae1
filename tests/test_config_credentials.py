"""One key opens one environment (issue #16, point 4): a staging stack that shares an operator key, a
Proxmox API token identity or a Linode token with a production stack is refused, by fingerprint or
token identity, never showing a secret."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest

from stacks.config import credentials, loader
from synth.engine import synth_config
from tests.tools import require_tool

PROD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP35ehWl7h8whpoPeQXCcXvFzbTLsmk47RVAvbVXNaCr lavender@homelab-example"
SECRET_PART = "canary-secret-part-7d1f"


def _committed(env: str) -> tuple[dict, set[str]]:
    entries, secret_keys, _ = synth_config(env)
    return copy.deepcopy(entries), secret_keys


def _production():
    entries, secret_keys = _committed("lothlorien")
    entries["homelab:linode"]["token_fingerprint"] = credentials.token_fingerprint("production-linode-token")
    entries["homelab:linodeToken"] = "production-linode-token"
    return loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)


def _staging_lines(entries: dict, secret_keys: set[str]) -> list[str]:
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys=secret_keys, peers=[_production()])
    assert SECRET_PART not in str(caught.value) and "production-linode-token" not in str(caught.value)
    return caught.value.lines


def test_the_committed_environments_share_no_credential():
    entries, secret_keys = _committed("mirkwood")
    cfg = loader.validate(entries, stack="mirkwood", secret_keys=secret_keys, peers=[_production()])
    assert list(credentials.conflicts(cfg, _production(), {})) == []


def test_staging_with_productions_operator_key_is_refused_by_fingerprint():
    entries, secret_keys = _committed("mirkwood")
    own = entries["homelab:environment"]["operator"]["ssh_authorized_keys"][0]
    entries["homelab:environment"]["operator"]["ssh_authorized_keys"] = [own, PROD_KEY.replace("homelab-example", "x")]
    fingerprint = credentials.key_fingerprint(PROD_KEY)
    assert _staging_lines(entries, secret_keys) == [
        f"environment.operator.ssh_authorized_keys[1]: is also an operator key of the production environment "
        f"lothlorien, where it is root on every Proxmox node and sudo on every guest; give each environment its "
        f"own key (got '{fingerprint}')"]


def test_staging_with_productions_proxmox_token_is_refused_by_its_identity():
    entries, secret_keys = _committed("mirkwood")
    entries["homelab:proxmox"]["api_token_id"] = "homelab-lothlorien@pve!pulumi"
    entries["homelab:proxmoxApiToken"] = f"homelab-lothlorien@pve!pulumi={SECRET_PART}"
    advice = ("is also the API token of the production environment lothlorien; give each environment its own "
              "token, limited to its pool and storages")
    assert _staging_lines(entries, secret_keys) == [f"proxmox.api_token_id: {advice} (got 'homelab-lothlorien@pve!pulumi')"]
    # Without declaring it, the secret's own identity gives it away.
    del entries["homelab:proxmox"]["api_token_id"]
    assert _staging_lines(entries, secret_keys) == [
        f"homelab:proxmoxApiToken: {advice} (secret not shown) (got 'homelab-lothlorien@pve!pulumi')"]


def test_staging_with_productions_linode_token_is_refused_by_fingerprint():
    entries, secret_keys = _committed("mirkwood")
    fingerprint = credentials.token_fingerprint("production-linode-token")
    entries["homelab:linodeToken"] = "production-linode-token"
    assert _staging_lines(entries, secret_keys) == [
        "homelab:linodeToken: is the Linode token of the production environment lothlorien (its fingerprint "
        f"matches; token not shown); give each environment its own token (got '{fingerprint}')"]
    entries["homelab:linode"]["token_fingerprint"] = fingerprint
    assert _staging_lines(entries, secret_keys) == [
        "linode.token_fingerprint: is also the Linode token of the production environment lothlorien; give each "
        f"environment its own token (got '{fingerprint}')"]


def _keypair(tmp_path: Path, passphrase: str = "") -> tuple[str, str]:
    keygen = require_tool("ssh-keygen")
    path = tmp_path / f"key{len(passphrase)}"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", passphrase, "-C", "op", "-f", str(path)], check=True)
    return path.read_text(), path.with_suffix(".pub").read_text().strip()


@pytest.mark.system
def test_staging_holding_productions_private_key_is_refused(tmp_path):
    private, public = _keypair(tmp_path)
    entries, secret_keys = _committed("lothlorien")
    entries["homelab:environment"]["operator"]["ssh_authorized_keys"] = [public]
    production = loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    staging_entries, staging_secrets = _committed("mirkwood")
    staging_entries["homelab:sshPrivateKey"] = private
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(staging_entries, stack="mirkwood", secret_keys=staging_secrets, peers=[production])
    assert caught.value.lines == [
        "homelab:sshPrivateKey: opens the production environment lothlorien: its public key is one of that "
        f"environment's operator keys (key not shown); give each environment its own key "
        f"(got '{credentials.key_fingerprint(public)}')"]
    assert "PRIVATE KEY" not in str(caught.value)


@pytest.mark.system
@pytest.mark.parametrize("passphrase", ["", "an encrypted key keeps its public half in the clear"])
def test_fingerprints_are_what_ssh_keygen_prints(tmp_path, passphrase):
    private, public = _keypair(tmp_path, passphrase)
    listed = subprocess.run([require_tool("ssh-keygen"), "-l", "-f", str(tmp_path / f"key{len(passphrase)}.pub")],
                            capture_output=True, text=True, check=True).stdout.split()[1]
    assert credentials.key_fingerprint(public) == listed
    assert credentials.blob_fingerprint(credentials.openssh_public_blob(private)) == listed
    assert credentials.openssh_public_blob("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----") is None


def test_declared_identities_must_be_the_secrets_own():
    entries, secret_keys = _committed("mirkwood")
    entries["homelab:proxmoxApiToken"] = f"someone-else@pve!pulumi={SECRET_PART}"
    entries["homelab:linode"]["token_fingerprint"] = "sha256:0000000000000000"
    entries["homelab:linodeToken"] = "staging-linode-token"
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys=secret_keys)
    assert sorted(caught.value.lines) == [
        "homelab:linodeToken: does not match linode.token_fingerprint; the secret's fingerprint is "
        f"{credentials.token_fingerprint('staging-linode-token')} (secret not shown) (got 'sha256:0000000000000000')",
        "homelab:proxmoxApiToken: is not the token of proxmox.api_token_id (secret not shown) "
        "(got 'homelab-mirkwood@pve!pulumi')",
    ]
    assert SECRET_PART not in str(caught.value) and "staging-linode-token" not in str(caught.value)


def test_production_declares_its_proxmox_token_identity():
    entries, secret_keys = _committed("lothlorien")
    del entries["homelab:proxmox"]["api_token_id"]
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    assert caught.value.lines == [
        "proxmox.api_token_id: is required in production: the identity USER@REALM!TOKENID of proxmoxApiToken, so "
        "that no staging stack can use the same token (got None)"]


def test_staging_with_productions_pve_exporter_token_is_refused_by_its_identity():
    entries, secret_keys = _committed("mirkwood")
    prod_id = "pve-exporter-lothlorien@pve!metrics"
    entries["homelab:monitoring"]["proxmox"]["token_id"] = prod_id
    entries["homelab:pveExporterToken"] = f"{prod_id}={SECRET_PART}"
    advice = ("is also the PVE exporter token of the production environment lothlorien; give each environment "
              "its own token")
    assert _staging_lines(entries, secret_keys) == [f"monitoring.proxmox.token_id: {advice} (got '{prod_id}')"]
    # Undeclared, the secret's own identity gives it away.
    del entries["homelab:monitoring"]["proxmox"]["token_id"]
    assert _staging_lines(entries, secret_keys) == [
        f"homelab:pveExporterToken: {advice} (secret not shown) (got '{prod_id}')"]


def test_staging_exporter_holding_productions_pulumi_token_and_the_reverse_are_refused():
    """Each of staging's Proxmox tokens is compared with each of production's: the exporter given
    production's (read-write) Pulumi token, or Pulumi given production's exporter token."""
    entries, secret_keys = _committed("mirkwood")
    entries["homelab:pveExporterToken"] = f"homelab-lothlorien@pve!pulumi={SECRET_PART}"
    del entries["homelab:monitoring"]["proxmox"]["token_id"]
    assert _staging_lines(entries, secret_keys) == [
        "homelab:pveExporterToken: is also the API token of the production environment lothlorien; give each "
        "environment its own token, limited to its pool and storages (secret not shown) "
        "(got 'homelab-lothlorien@pve!pulumi')"]
    entries, secret_keys = _committed("mirkwood")
    entries["homelab:proxmox"]["api_token_id"] = "pve-exporter-lothlorien@pve!metrics"
    entries["homelab:proxmoxApiToken"] = f"pve-exporter-lothlorien@pve!metrics={SECRET_PART}"
    assert _staging_lines(entries, secret_keys) == [
        "proxmox.api_token_id: is also the PVE exporter token of the production environment lothlorien; give "
        "each environment its own token (got 'pve-exporter-lothlorien@pve!metrics')"]


def test_the_exporter_token_must_be_the_declared_one_and_production_declares_it():
    entries, secret_keys = _committed("mirkwood")
    entries["homelab:pveExporterToken"] = f"someone-else@pve!metrics={SECRET_PART}"
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="mirkwood", secret_keys=secret_keys)
    assert caught.value.lines == [
        "homelab:pveExporterToken: is not the token of monitoring.proxmox.token_id (secret not shown) "
        "(got 'pve-exporter-mirkwood@pve!metrics')"]
    assert SECRET_PART not in str(caught.value)
    entries, secret_keys = _committed("lothlorien")
    del entries["homelab:monitoring"]["proxmox"]["token_id"]
    with pytest.raises(loader.ConfigError) as caught:
        loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    assert caught.value.lines == [
        "monitoring.proxmox.token_id: is required in production: the identity USER@REALM!TOKENID of "
        "pveExporterToken, so that no staging stack can use the same token (got None)"]
