"""Building blocks shared by every config section."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

# RFC 1123 label: letters, digits and hyphens, 1-63 characters, no hyphen at either end.
HOSTNAME_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

# A config key whose name says it holds a credential. Names that only point at a credential
# (`*_ref`, `*_name`, `*_file`, `*_path`, `*_id`) or hold public material (`*_public_key`,
# `*_host_key`, `*_fingerprint`) are not credentials themselves.
_SENSITIVE = re.compile(r"password|passwd|passphrase|token|secret|apikey|privatekey|accesskey|credential|key$")
_REFERENCE_SUFFIXES = ("ref", "name", "file", "path", "id", "publickey", "hostkey", "keys", "fingerprint")


def looks_secret(key: str) -> bool:
    """True when a config key's name says it holds a credential (password, token, key, secret)."""
    normalized = re.sub(r"[^a-z0-9]", "", key.lower())
    if normalized.endswith(_REFERENCE_SUFFIXES):
        return False
    return bool(_SENSITIVE.search(normalized))


class Model(BaseModel):
    """Base of every config model: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Problem:
    """One config problem found by a cross-field check."""

    path: str
    value: Any
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} (got {self.value!r})"


@dataclass(frozen=True)
class SecretSpec:
    """A secret config key the environment needs, set with `pulumi config set --secret`."""

    key: str
    description: str
    required: bool = True
    # The value's form when it has one: checked by the loader (the value itself is never shown),
    # `form` names it in the message, and `template` dresses a stand-in value in it ("{}" is the
    # stand-in) for runs without the real secret, such as the offline synth.
    pattern: str | None = None
    form: str | None = None
    template: str | None = None

    def dressed(self, stand_in: str) -> str:
        """A stand-in value in the secret's form."""
        return self.template.format(stand_in) if self.template else stand_in


# Proxmox API tokens, for the provider and for the PVE exporter: USER@REALM!TOKENID=SECRET.
API_TOKEN = {"pattern": r"[^@\s]+@[^!\s]+![^=\s]+=\S+", "form": "USER@REALM!TOKENID=SECRET",
             "template": "homelab@pve!synth={}"}


@dataclass(frozen=True)
class DeclaredHost:
    """A host some section of the config declares, for checks across platforms."""

    name: str
    platform: str
    path: str
    address: str | None = None
    distribution: str | None = None
    groups: tuple[str, ...] = ()


def check_hostname(value: str) -> str:
    """Validator body for RFC 1123 host names."""
    if not HOSTNAME_RE.match(value):
        raise ValueError(
            "is not a valid hostname (RFC 1123 label: lowercase letters, digits and '-', "
            "1-63 characters, not starting or ending with '-')"
        )
    return value
