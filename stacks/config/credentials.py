"""One environment's credentials must not open another: a staging stack that shares an operator SSH
key, a Proxmox API token identity or a Linode token with a production stack is a config error.

What is compared is what the config can tell without any secret leaving its stack: public keys by
their SHA256 fingerprint (as `ssh-keygen -l` prints it), Proxmox tokens by their identity
`USER@REALM!TOKENID` (config `proxmox.api_token_id` for Pulumi's, `monitoring.proxmox.token_id` for
the PVE exporter's, each against both of production's; the loader checks that the secrets carry them),
Linode tokens by `linode.token_fingerprint` (a truncated SHA-256 of the token, which the loader checks
against the secret). Staging's own secrets are compared too where they reveal something public: the
public half of its `sshPrivateKey` (OpenSSH keys carry it unencrypted in their header) against
production's operator keys, its `linodeToken`'s fingerprint against production's. No message ever
shows a secret: only fingerprints and token identities.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .base import Problem

if TYPE_CHECKING:
    from .base import Config as EnvironmentConfig  # the whole config as sections see it (base.Config)

FINGERPRINT_PREFIX = "sha256:"
FINGERPRINT_HEX = 16  # 64 bits of SHA-256: enough to tell two tokens apart, nothing to guess a token from
_OPENSSH_MAGIC = b"openssh-key-v1\0"


def key_fingerprint(public_key: str) -> str:
    """`SHA256:<base64>` of an SSH public key line, as `ssh-keygen -l` prints it."""
    parts = public_key.split()
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (IndexError, binascii.Error, ValueError):
        raise ValueError("is not an SSH public key line such as 'ssh-ed25519 AAAA... comment'") from None
    return blob_fingerprint(blob)


def blob_fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def token_fingerprint(token: str) -> str:
    """The value `linode.token_fingerprint` holds for a token."""
    return FINGERPRINT_PREFIX + hashlib.sha256(token.encode()).hexdigest()[:FINGERPRINT_HEX]


def openssh_public_blob(private_key: str) -> bytes | None:
    """The public key inside an OpenSSH private key (format openssh-key-v1: magic, cipher name, KDF
    name, KDF options, number of keys, then each public key in the clear, even when the private part
    is encrypted; OpenSSH PROTOCOL.key). None for other formats."""
    lines = [line.strip() for line in private_key.strip().splitlines()]
    if len(lines) < 3 or lines[0] != "-----BEGIN OPENSSH PRIVATE KEY-----":
        return None
    try:
        data = base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data.startswith(_OPENSSH_MAGIC):
        return None
    offset = len(_OPENSSH_MAGIC)
    try:
        for _ in range(3):  # cipher name, KDF name, KDF options
            (length,) = struct.unpack_from(">I", data, offset)
            offset += 4 + length
        (count,) = struct.unpack_from(">I", data, offset)
        offset += 4
        (length,) = struct.unpack_from(">I", data, offset)
        blob = data[offset + 4:offset + 4 + length]
    except struct.error:
        return None
    return blob if count >= 1 and len(blob) == length else None


def _operator_fingerprints(cfg: "EnvironmentConfig") -> dict[str, int]:
    """Fingerprint -> index of the first key with it (a line that does not decode is compared as text)."""
    found: dict[str, int] = {}
    for index, key in enumerate(cfg.environment.operator.ssh_authorized_keys):
        try:
            fingerprint = key_fingerprint(key)
        except ValueError:
            fingerprint = " ".join(key.split()[:2])
        found.setdefault(fingerprint, index)
    return found


def conflicts(staging: "EnvironmentConfig", production: "EnvironmentConfig",
              secrets: Mapping[str, Any] = {}) -> Iterator[Problem]:
    """What staging shares with `production`. `secrets` are staging's own secret values by key
    (`sshPrivateKey`, `proxmoxApiToken`, `pveExporterToken`, `linodeToken`), compared through what they
    reveal publicly."""
    name = production.environment.name
    prod_keys = _operator_fingerprints(production)
    for fingerprint, index in sorted(_operator_fingerprints(staging).items(), key=lambda item: item[1]):
        if fingerprint in prod_keys:
            yield Problem(f"environment.operator.ssh_authorized_keys[{index}]", fingerprint,
                          f"is also an operator key of the production environment {name}, where it is root on "
                          "every Proxmox node and sudo on every guest; give each environment its own key")
    private_key = secrets.get("sshPrivateKey")
    blob = openssh_public_blob(private_key) if isinstance(private_key, str) else None
    if blob is not None and blob_fingerprint(blob) in prod_keys:
        yield Problem("homelab:sshPrivateKey", blob_fingerprint(blob),
                      f"opens the production environment {name}: its public key is one of that environment's "
                      "operator keys (key not shown); give each environment its own key")
    yield from _proxmox_token(staging, production, secrets)
    yield from _linode_token(staging, production, secrets.get("linodeToken"))


def token_identity(token: str) -> str:
    """`USER@REALM!TOKENID` of a Proxmox API token `USER@REALM!TOKENID=SECRET` (not secret itself)."""
    return token.split("=", 1)[0]


def _proxmox_ids(cfg: "EnvironmentConfig") -> list[tuple[str, str | None, str, str]]:
    """(field path, declared identity, secret key, what it is) of each Proxmox token the config uses."""
    px = cfg.proxmox
    mon = getattr(cfg, "monitoring", None)
    exporter = mon.proxmox if mon is not None and mon.enabled and mon.proxmox and mon.proxmox.targets else None
    return [
        ("proxmox.api_token_id", px.api_token_id if px else None, "proxmoxApiToken", "API token"),
        ("monitoring.proxmox.token_id", exporter.token_id if exporter else None, "pveExporterToken",
         "PVE exporter token"),
    ]


def _proxmox_token(staging: "EnvironmentConfig", production: "EnvironmentConfig",
                   secrets: Mapping[str, Any]) -> Iterator[Problem]:
    """Any Proxmox token of staging (Pulumi's, the PVE exporter's; declared or the secret's own
    identity) that is one of production's."""
    prod = {identity: what for _, identity, _, what in _proxmox_ids(production) if identity is not None}
    if not prod:
        return
    name = production.environment.name
    for path, declared, key, _ in _proxmox_ids(staging):
        token = secrets.get(key)
        secret_identity = token_identity(token) if isinstance(token, str) else None
        if declared is not None and declared in prod:
            yield Problem(path, declared, _advice(prod[declared], name))
        elif secret_identity is not None and secret_identity in prod:
            yield Problem(f"homelab:{key}", secret_identity, _advice(prod[secret_identity], name) + " (secret not shown)")


def _advice(what: str, name: str) -> str:
    if what == "API token":
        return (f"is also the API token of the production environment {name}; "
                "give each environment its own token, limited to its pool and storages")
    return f"is also the {what} of the production environment {name}; give each environment its own token"


def _linode_token(staging: "EnvironmentConfig", production: "EnvironmentConfig", token: Any) -> Iterator[Problem]:
    stage, prod = staging.linode, production.linode
    if stage is None or prod is None or prod.token_fingerprint is None:
        return
    name = production.environment.name
    if stage.token_fingerprint == prod.token_fingerprint:
        yield Problem("linode.token_fingerprint", stage.token_fingerprint,
                      f"is also the Linode token of the production environment {name}; give each environment "
                      "its own token")
    elif isinstance(token, str) and token_fingerprint(token) == prod.token_fingerprint:
        yield Problem("homelab:linodeToken", prod.token_fingerprint,
                      f"is the Linode token of the production environment {name} (its fingerprint matches; "
                      "token not shown); give each environment its own token")
