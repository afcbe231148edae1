"""Load the stack's config, validate it once, and report every problem at once.

`validate()` is pure: it takes the stack's config entries (full keys such as `homelab:proxmox`,
values already parsed from JSON) and returns the typed config or raises `ConfigError` with one
line per problem. `load()` feeds it from the Pulumi runtime, with the project's other stack files
as peers: a staging stack may not reach into a production environment's nodes, VLANs or VMIDs.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pydantic import ValidationError

from . import credentials
from policy.stacks import CONFIG as PRODUCTION_CONFIG
from policy.stacks import is_production

from . import proxmox as pxcfg
from . import stackfile
from .base import ConfigError, Problem, looks_secret  # noqa: F401 - ConfigError is loader.ConfigError too
from .model import EnvironmentConfig, needed_secrets, problems

NAMESPACE = "homelab"
SECTION_KEYS = tuple(EnvironmentConfig.model_fields)
# Set by the offline synth: the folder of the stack file it runs (its peers are the files beside it).
STACK_DIR_VARIABLE = "HOMELAB_STACK_DIR"


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
        kept = Salvage(cfg)
    except ValidationError as error:
        # Report the field errors, then run the cross-field checks on what did parse (salvage).
        lines.extend(_pydantic_lines(error))
        kept = salvage(sections, error)
        if kept is None:
            raise ConfigError(lines) from None
        cfg = kept.cfg
    lines.extend(_production_disagreement(cfg, stack))
    cfg = with_production(cfg, stack)
    found = list(problems(cfg))
    own_secrets = {key.split(":", 1)[1]: entries[key] for key in secret_keys
                   if key.startswith(f"{NAMESPACE}:") and key in entries}
    found.extend(_secrets_match_config(cfg, own_secrets))
    if not cfg.environment.production:
        for peer in peers:
            if peer.environment.production and peer.environment.name != cfg.environment.name:
                found.extend(pxcfg.conflicts(cfg, peer))
                found.extend(credentials.conflicts(cfg, peer, own_secrets))
    lines.extend(kept.original(str(problem)) for problem in found if kept.keeps(problem))
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


def _production_disagreement(cfg: EnvironmentConfig, stack: str) -> Iterator[str]:
    """`environment.production`, when given, must say what the one definition says (the policy
    pack's config), so the loader's protection and the pack's guards never disagree."""
    said, expected = cfg.environment.production, is_production(stack)
    if said is not None and said != expected:
        where = PRODUCTION_CONFIG.relative_to(PRODUCTION_CONFIG.parent.parent)
        what = "is" if expected else "is not"
        yield (f"environment.production: stack {stack!r} {what} a production stack in {where} (got {said!r}); "
               f"leave `production` out or change {where}")


def with_production(cfg: EnvironmentConfig, stack: str) -> EnvironmentConfig:
    """The config with `environment.production` as the one definition (policy/stacks.yaml) says."""
    environment = cfg.environment.model_copy(update={"production": is_production(stack)})
    return cfg.model_copy(update={"environment": environment})


@dataclass(frozen=True)
class Salvage:
    """The config as far as it parsed: invalid entries taken out or set back to their defaults.

    Cross-field problems that may only be echoes of what was taken out are not reported: those
    about a removed entry's name (a k3s node naming a VM that had a field error), under a removed
    or reset path, or naming a section that was dropped whole. List indices in what is reported are
    the file's own (`removed` holds, per round, the indices each list lost)."""

    cfg: EnvironmentConfig
    names: frozenset[str] = frozenset()
    paths: frozenset[str] = frozenset()
    sections: frozenset[str] = frozenset()
    removed: tuple[dict[str, frozenset[int]], ...] = ()

    def keeps(self, problem: Problem) -> bool:
        if isinstance(problem.value, str) and problem.value in self.names:
            return False
        path = self.original(problem.path)
        if any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in self.paths):
            return False
        text = f"{problem.path} {problem.message}"
        return not any(re.search(rf"\b{re.escape(section)}\b", text) for section in self.sections)

    def original(self, text: str) -> str:
        """`text` with the list indices of the salvaged config turned back into the file's."""
        return _original(text, self.removed)


def _original(text: str, rounds: Iterable[dict[str, frozenset[int]]]) -> str:
    for removed in reversed(list(rounds)):
        for path in sorted(removed, key=len):  # outer lists first: inner paths hold their indices
            gone = sorted(removed[path])

            def back(match: re.Match, gone: list[int] = gone) -> str:
                index = int(match.group(1))
                for lost in gone:  # the index-th survivor
                    if lost <= index:
                        index += 1
                return f"{match.group(0)[:-len(match.group(1)) - 2]}[{index}]"

            text = re.sub(rf"(?<![\w.]){re.escape(path)}\[(\d+)\]", back, text)
    return text


def parsed(entries: Mapping[str, Any]) -> Salvage | None:
    """The config of a stack's entries as far as it parses (no cross-field checks), or None."""
    sections = config_sections(entries)
    try:
        return Salvage(EnvironmentConfig.model_validate(sections))
    except ValidationError as error:
        return salvage(sections, error)


def salvage(sections: Mapping[str, Any], error: ValidationError, rounds: int = 12) -> Salvage | None:
    """Take out (or reset to its default) each part a validation error is about, until the rest
    parses; None when the environment itself cannot be kept."""
    data = copy.deepcopy(dict(sections))
    names: set[str] = set()
    paths: set[str] = set()
    dropped: set[str] = set()
    history: list[dict[str, frozenset[int]]] = []
    for _ in range(rounds):
        gone: set[str] = set()
        for item in error.errors(include_url=False):
            if not _repair(data, item, names, gone, dropped):
                return None
        paths.update(_original(path, history) for path in gone)
        history.append(_removed_indices(gone))
        _compact(data)
        try:
            cfg = EnvironmentConfig.model_validate(data)
        except ValidationError as again:
            error = again
            continue
        return Salvage(cfg, frozenset(names), frozenset(paths), frozenset(dropped), tuple(history))
    return None


def _removed_indices(paths: Iterable[str]) -> dict[str, frozenset[int]]:
    """List path -> indices taken out, from the removed paths of one round (`a.b[2]` -> a.b: {2})."""
    out: dict[str, set[int]] = {}
    for path in paths:
        match = re.fullmatch(r"(.*)\[(\d+)\]", path)
        if match:
            out.setdefault(match.group(1), set()).add(int(match.group(2)))
    return {path: frozenset(indices) for path, indices in out.items()}


def _repair(data: dict, item: Mapping[str, Any], names: set[str], paths: set[str], dropped: set[str]) -> bool:
    """Mark the innermost list/map entry or optional field holding the error as gone; False if only
    the environment itself could go (then nothing can be checked across sections)."""
    steps = _steps(data, [part for part in item["loc"] if not _is_tag(part)])
    if item["type"] == "extra_forbidden" and steps and steps[-1][3] == "extra":
        container, key = steps[-1][:2]
        container[key] = _GONE
        return True
    for container, key, optional, kind, path in reversed(steps):
        if kind == "item" or optional:
            value, container[key] = container[key], _GONE
            if kind == "item" and isinstance(container, dict):
                names.add(str(key))
            if kind == "item" and isinstance(value, dict) and isinstance(value.get("name"), str):
                names.add(value["name"])
            paths.add(path)
            if path in SECTION_KEYS:
                dropped.add(path)
            return True
    return False


_GONE = object()


def _compact(value: Any) -> None:
    """Drop what a round marked gone (only after the round: list indices of its errors stay valid)."""
    if isinstance(value, dict):
        for key in [k for k, child in value.items() if child is _GONE]:
            del value[key]
        for child in value.values():
            _compact(child)
    elif isinstance(value, list):
        value[:] = [child for child in value if child is not _GONE]
        for child in value:
            _compact(child)


def _is_tag(part: Any) -> bool:
    return isinstance(part, str) and part.startswith(("function-", "tagged-union", "json-or-python", "lax-or-strict"))


def _steps(data: dict, loc: list) -> list[tuple[Any, Any, bool, str, str]]:
    """Walk `loc` through the raw data and the models: (container, key, optional, kind, path) per step,
    kind "field" for a model's field (optional: it has a default) or "item" for a list/map entry."""
    steps = []
    node: Any = data
    annotation: Any = EnvironmentConfig
    path = ""
    for part in loc:
        annotation = _unwrap(annotation)
        model_fields = getattr(annotation, "model_fields", None)
        if isinstance(node, dict) and model_fields is not None and isinstance(part, str):
            field = model_fields.get(part) or next((f for f in model_fields.values() if f.alias == part), None)
            if part in node and field is None:  # an unknown field
                steps.append((node, part, True, "extra", f"{path}.{part}" if path else part))
                break
            if part not in node:
                break
            steps.append((node, part, not field.is_required(), "field", f"{path}.{part}" if path else part))
            path = steps[-1][4]
            node, annotation = node[part], field.annotation
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path = f"{path}[{part}]"
            steps.append((node, part, False, "item", path))
            node, annotation = node[part], _item_type(annotation, 0)
        elif isinstance(node, dict) and part in node:
            path = f"{path}.{part}"
            steps.append((node, part, False, "item", path))
            node, annotation = node[part], _item_type(annotation, 1)
        else:
            break
    return steps


def _unwrap(annotation: Any) -> Any:
    from typing import Annotated, Union, get_args, get_origin
    import types

    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
        else:
            return annotation


def _item_type(annotation: Any, index: int) -> Any:
    from typing import get_args

    args = [a for a in get_args(_unwrap(annotation)) if a is not Ellipsis]
    if not args:
        return Any
    return args[min(index, len(args) - 1)]


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
    # The offline synth of a stack file elsewhere (--stack-dir) compares it with the files beside it.
    project_dir = Path(os.environ.get(STACK_DIR_VARIABLE) or project_dir)
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
            entries = stackfile.read(path).entries
            peer_stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
            peers.append(with_production(EnvironmentConfig.model_validate(config_sections(entries)), peer_stack))
        except (ConfigError, ValidationError):
            continue
    return peers


def _secrets_match_config(cfg: EnvironmentConfig, secrets: Mapping[str, Any]) -> Iterator[Problem]:
    """The identities the config declares for its secrets are the secrets' own (values never shown)."""
    token = secrets.get("proxmoxApiToken")
    if cfg.proxmox is not None and cfg.proxmox.api_token_id and isinstance(token, str) and "=" in token:
        if credentials.token_identity(token) != cfg.proxmox.api_token_id:
            yield Problem(f"{NAMESPACE}:proxmoxApiToken", cfg.proxmox.api_token_id,
                          "is not the token of proxmox.api_token_id (secret not shown)")
    token = secrets.get("pveExporterToken")
    mon = getattr(cfg, "monitoring", None)
    declared = mon.proxmox.token_id if mon is not None and mon.proxmox is not None else None
    if declared and isinstance(token, str) and "=" in token and credentials.token_identity(token) != declared:
        yield Problem(f"{NAMESPACE}:pveExporterToken", declared,
                      "is not the token of monitoring.proxmox.token_id (secret not shown)")
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
