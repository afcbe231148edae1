"""Load the stack's config, validate it once, and report every problem at once.

`validate()` is pure: it takes the stack's config entries (full keys such as `homelab:proxmox`,
values already parsed from JSON) and returns the typed config or raises `ConfigError` with one
line per problem. `load()` feeds it from the Pulumi runtime, with the project's other stack files
as peers: a staging stack may not reach into a production environment's nodes, VLANs or VMIDs.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pydantic import ValidationError

from . import credentials
from . import proxmox as pxcfg
from .base import Problem, looks_secret
from .model import EnvironmentConfig, needed_secrets, problems

NAMESPACE = "homelab"
SECTION_KEYS = tuple(EnvironmentConfig.model_fields)


class ConfigError(pulumi.RunError):
    """The config is invalid; `lines` holds one message per problem. Nothing has been declared."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        noun = "problem" if len(lines) == 1 else "problems"
        super().__init__(f"invalid configuration ({len(lines)} {noun}):\n" + "\n".join(f"  {line}" for line in lines))


def config_sections(entries: Mapping[str, Any]) -> dict[str, Any]:
    """The config sections among a stack's entries (`homelab:proxmox` -> `proxmox`), secrets left out."""
    return {key.split(":", 1)[1]: value for key, value in entries.items()
            if key.startswith(f"{NAMESPACE}:") and key.split(":", 1)[1] in SECTION_KEYS}


def validate(entries: Mapping[str, Any], *, stack: str, secret_keys: set[str] | frozenset[str] = frozenset(),
             peers: Iterable[EnvironmentConfig] = ()) -> EnvironmentConfig:
    """Validate a stack's config entries; raise ConfigError listing every problem.

    `peers` are the project's other environments: when this one is not production, it must stay
    off the Proxmox nodes, VLANs and VMID range of every production peer."""
    lines = list(_plain_credentials(entries, secret_keys))
    lines.extend(_unknown_keys(entries, secret_keys))
    sections = config_sections(entries)
    name = (sections.get("environment") or {}).get("name") if isinstance(sections.get("environment"), dict) else None
    if isinstance(name, str) and name != stack:
        lines.append(f"environment.name: does not match the stack name {stack!r} (got {name!r})")
    try:
        cfg = EnvironmentConfig.model_validate(sections)
    except ValidationError as error:
        lines.extend(_pydantic_lines(error))
        raise ConfigError(lines) from None
    lines.extend(str(problem) for problem in problems(cfg))
    own_secrets = {key.split(":", 1)[1]: entries[key] for key in secret_keys
                   if key.startswith(f"{NAMESPACE}:") and key in entries}
    lines.extend(str(problem) for problem in _secrets_match_config(cfg, own_secrets))
    if not cfg.environment.production:
        for peer in peers:
            if peer.environment.production and peer.environment.name != cfg.environment.name:
                lines.extend(str(problem) for problem in pxcfg.conflicts(cfg, peer))
                lines.extend(str(problem) for problem in credentials.conflicts(cfg, peer, own_secrets))
    secret_specs = needed_secrets(cfg)
    for spec in secret_specs:
        key = f"{NAMESPACE}:{spec.key}"
        if spec.required and key not in entries:
            lines.append(f"{key}: required secret is not set ({spec.description}); "
                         f"set it with: pulumi config set --secret {spec.key} <value>")
        elif spec.pattern and isinstance(entries.get(key), str) and not re.fullmatch(spec.pattern, entries[key]):
            lines.append(f"{key}: is not of the form {spec.form} (value not shown)")
    if lines:
        raise ConfigError(lines)
    return cfg


def load() -> EnvironmentConfig:
    """Validate the running stack's config (Pulumi CLI or mocks)."""
    entries: dict[str, Any] = {}
    raw = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    for key, value in raw.items():
        entries[key] = _parse(value)
    secret_keys = {key for key in entries if pulumi.runtime.is_config_secret(key)}
    stack = pulumi.get_stack()
    # The CLI gives the project's root; under mocks it may be unset, and the program runs from there.
    root = pulumi.runtime.get_root_directory()
    project_dir = Path(root) if root and (Path(root) / "Pulumi.yaml").is_file() else Path(os.getcwd())
    return validate(entries, stack=stack, secret_keys=secret_keys, peers=peer_environments(project_dir, stack))


def peer_environments(project_dir: Path, stack: str) -> list[EnvironmentConfig]:
    """The other stacks' environments in the project directory, as far as their files parse.

    Only their shape is read (no secrets, no cross-checks): a stack file with errors is reported
    when that stack runs, and is not a peer here."""
    peers = []
    for path in sorted(project_dir.glob("Pulumi.*.yaml")):
        if path.name == f"Pulumi.{stack}.yaml":
            continue
        try:
            document = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
            # A stack file may leave out the project's namespace on its own keys.
            entries = {k if ":" in k else f"{NAMESPACE}:{k}": v for k, v in (document.get("config") or {}).items()}
            peers.append(EnvironmentConfig.model_validate(config_sections(entries)))
        except (OSError, yaml.YAMLError, ValidationError, AttributeError):
            continue
    return peers


def _secrets_match_config(cfg: EnvironmentConfig, secrets: Mapping[str, Any]) -> Iterator[Problem]:
    """The identities the config declares for its secrets are the secrets' own (values never shown)."""
    token = secrets.get("proxmoxApiToken")
    if cfg.proxmox is not None and cfg.proxmox.api_token_id and isinstance(token, str) and "=" in token:
        if credentials.token_identity(token) != cfg.proxmox.api_token_id:
            yield Problem(f"{NAMESPACE}:proxmoxApiToken", cfg.proxmox.api_token_id,
                          "is not the token of proxmox.api_token_id (secret not shown)")
    token = secrets.get("linodeToken")
    if cfg.linode is not None and cfg.linode.token_fingerprint and isinstance(token, str):
        actual = credentials.token_fingerprint(token)
        if actual != cfg.linode.token_fingerprint:
            yield Problem(f"{NAMESPACE}:linodeToken", cfg.linode.token_fingerprint,
                          f"does not match linode.token_fingerprint; the secret's fingerprint is {actual} "
                          "(secret not shown)")


def _unknown_keys(entries: Mapping[str, Any], secret_keys: set[str] | frozenset[str]) -> Iterator[str]:
    """Keys of this project that are neither a section nor a secret (secrets are checked by name)."""
    for key in sorted(entries):
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE or name in SECTION_KEYS or key in secret_keys or looks_secret(name):
            continue
        hint = difflib.get_close_matches(name, SECTION_KEYS, n=1)
        suggestion = f"did you mean {hint[0]!r}?" if hint else f"known keys: {', '.join(SECTION_KEYS)}"
        yield f"{key}: unknown config key; {suggestion} (got {_short(entries[key])!r})"


def _parse(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _plain_credentials(entries: Mapping[str, Any], secret_keys: set[str] | frozenset[str]) -> Iterator[str]:
    """A key that names a credential but holds a plain value: the value itself is never shown."""
    for key in sorted(entries):
        if key in secret_keys:
            continue
        namespace, _, name = key.partition(":")
        if looks_secret(name) and entries[key] not in (None, ""):
            yield (f"{key}: looks like a credential but is set in plain text; "
                   f"set it with: pulumi config set --secret {name} <value>")
        elif isinstance(entries[key], (dict, list)):
            for path, _value in _nested_credentials(entries[key], name):
                yield (f"{path}: looks like a credential but is a plain value in the stack file; "
                       "keep credentials in secret config keys (pulumi config set --secret)")


def _nested_credentials(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            child = f"{path}.{key}"
            if looks_secret(str(key)) and isinstance(value[key], (str, int, float)) and value[key] != "":
                yield child, value[key]
            else:
                yield from _nested_credentials(value[key], child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nested_credentials(item, f"{path}[{index}]")


def _pydantic_lines(error: ValidationError) -> Iterator[str]:
    for item in error.errors(include_url=False):
        path = _path(item["loc"])
        message = item["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field" + _field_hint(item["loc"])
        elif item["type"] == "missing":
            message = "is required"
        value = item.get("input")
        last = str(item["loc"][-1]) if item["loc"] else ""
        if looks_secret(last) or "PRIVATE KEY" in json.dumps(value, default=str):
            shown = "[secret]"
        elif item["type"] == "missing":
            yield f"{path}: {message}"
            continue
        else:
            shown = repr(_short(value))
        yield f"{path}: {message} (got {shown})"


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or str(part).startswith(("function-", "tagged-union")):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _field_hint(loc: tuple) -> str:
    """Suggest the nearest known field for an unknown one."""
    model: Any = EnvironmentConfig
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part) if isinstance(part, str) else None
        if field is not None:
            model = _model_of(field.annotation)
        # otherwise `part` is a list index or a dict key: the model stays the item's model
    if model is None or not hasattr(model, "model_fields"):
        return ""
    hint = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f"; did you mean {hint[0]!r}?" if hint else f"; known fields: {', '.join(model.model_fields)}"


def _model_of(annotation: Any) -> Any:
    from typing import get_args

    if hasattr(annotation, "model_fields"):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _short(value: Any) -> Any:
    if isinstance(value, (dict, list)) and len(json.dumps(value, default=str)) > 80:
        return f"{type(value).__name__} of {len(value)} items"
    return value
