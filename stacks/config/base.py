"""Building blocks shared by every config section."""

from __future__ import annotations

import ipaddress
import re
import types
from dataclasses import dataclass
from typing import Any, Protocol, Union, get_args, get_origin

import pulumi
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

# RFC 1123 label: letters, digits and hyphens, 1-63 characters, no hyphen at either end.
HOSTNAME_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Names every host's /etc/hosts already gives the loopback address (Debian's and RHEL's defaults,
# cloud-init's manage_etc_hosts templates): a host named so resolves itself to 127.0.0.1 / ::1.
RESERVED_HOSTNAMES = frozenset({"localhost", "localhost4", "localhost6", "localdomain", "ip6-localhost",
                                "ip6-loopback", "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes",
                                "ip6-allrouters", "broadcasthost"})

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


# Credentials inside a value echoed in a message: a URL's user:password@ (a datastore DSN, a
# webhook or datasource URL) and password=/token=/secret=/key= query or DSN parameters.
_URL_PASSWORD = re.compile(r"(?P<keep>[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:'\"]*:)[^\s@'\"]+@")
_PARAMETER_SECRET = re.compile(r"(?P<keep>\b(?:password|passwd|pwd|token|secret|key|sslpassword)=)[^&;\s'\"]+",
                               re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with credentials in URLs and DSN parameters replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('keep')}***@", text)
    return _PARAMETER_SECRET.sub(lambda m: f"{m.group('keep')}***", text)


class ConfigError(pulumi.RunError):
    """The config is invalid; `lines` holds one message per problem. Nothing has been declared."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = [redact(line) for line in lines]
        lines = self.lines
        noun = "problem" if len(lines) == 1 else "problems"
        super().__init__(f"invalid configuration ({len(lines)} {noun}):\n" + "\n".join(f"  {line}" for line in lines))


class Config(Protocol):
    """The whole environment config as a section's checks(), secrets() and hosts() read it.

    `model.EnvironmentConfig` is the one implementation. Sections are typed against this protocol
    instead of importing the model, so the package imports one way: base <- sections <- model <-
    loader (tests/test_config_structure.py keeps it so)."""

    @property
    def environment(self) -> Any: ...

    def declared_hosts(self) -> list[DeclaredHost]:
        """Every host any section declares, in section order."""
        ...

    def __getattr__(self, name: str) -> Any: ...


class Model(BaseModel):
    """Base of every config model: unknown fields are errors, values are immutable, and a number
    field refuses true/false (pydantic would take `cores: true` as 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name and _is_number(cls.model_fields[info.field_name].annotation):
            raise ValueError("must be a number, not true/false")
        return value


def _is_number(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return bool(args) and all(a in (int, float) for a in args)
    return False


@dataclass(frozen=True)
class Problem:
    """One config problem found by a cross-field check."""

    path: str
    value: Any
    message: str

    def __str__(self) -> str:
        if self.value is NO_VALUE:
            return f"{self.path}: {self.message}"
        return f"{self.path}: {self.message} (got {self.value!r})"


# A Problem about something absent or a whole section: no value to show.
NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "-"})()


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
    address_path: str | None = None  # the field holding `address`, for messages


def has_cluster(cfg: Config) -> bool:
    """Whether the config declares a k3s cluster (the services layers deploy to the first one)."""
    k3s = getattr(cfg, "k3s", None)
    return k3s is not None and bool(k3s.clusters)


def check_hostname(value: str) -> str:
    """Validator body for RFC 1123 host names."""
    if not HOSTNAME_RE.match(value):
        raise ValueError(
            "is not a valid hostname (RFC 1123 label: lowercase letters, digits and '-', "
            "1-63 characters, not starting or ending with '-')"
        )
    if value in RESERVED_HOSTNAMES:
        raise ValueError("is a reserved host name (every host's /etc/hosts gives it the loopback address)")
    return value


def strict_cidr(value: object) -> object:
    """Before-validator body for an IPv4 network: host bits set get the canonical network as a hint;
    a number is not a network (pydantic would take 7 as 0.0.0.7/32)."""
    if isinstance(value, (bool, int, float)):
        raise ValueError("is not an IPv4 network in CIDR notation, e.g. 10.30.0.0/24")
    if isinstance(value, str):
        try:
            ipaddress.IPv4Network(value)
        except ValueError:
            try:
                suggestion = ipaddress.IPv4Network(value, strict=False)
            except ValueError:
                raise ValueError("is not an IPv4 network in CIDR notation, e.g. 10.30.0.0/24") from None
            raise ValueError(f"has host bits set; did you mean {suggestion}?") from None
    return value


def strict_cidrs(values: object) -> object:
    """`strict_cidr` for each entry of a list (the message names the entry)."""
    if isinstance(values, (list, tuple)):
        for index, value in enumerate(values):
            try:
                strict_cidr(value)
            except ValueError as error:
                raise ValueError(f"entry [{index}] {value!r} {error}") from None
    return values
