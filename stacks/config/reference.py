"""The config reference, generated from the models: `python -m stacks.config.reference` writes
docs/CONFIG.md (`--check` only compares). Every field of every section with its type, default,
constraints and notes (the comment beside the field in the model), after the section's example
(its module docstring). tests/test_config_reference.py fails when the file is not current.
"""

from __future__ import annotations

import argparse
import inspect
import ipaddress
import json
import re
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .model import EnvironmentConfig

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "CONFIG.md"
NAMESPACE = "homelab"

_HEADER = """\
# Config reference

Generated from the pydantic models in `stacks/config/` by `python -m stacks.config.reference`
(do not edit by hand; `tests/test_config_reference.py` fails when this file is not current).

Each key below lives under the `{ns}:` namespace of `Pulumi.<stack>.yaml`, as structured YAML with
snake_case fields. Unknown fields are errors; so are true/false where a number belongs. Secrets
are never written here or in the stack file: they are set with `pulumi config set --secret KEY
VALUE` (README, "Secrets"), and the config says which ones it needs. `python -m synth --env
<stack>` (or `make synth ENV=<stack>`) checks a stack file offline and names every problem at once.

Columns: **type** (`list of X`, `map of name → X`: a YAML sequence or mapping), **default**
(*required* when there is none; `null` defaults are often derived, see notes), **constraints**
(checked by the loader besides the type), **notes** (from the model).

"""


def sections() -> list[tuple[str, Any, FieldInfo]]:
    """(key, annotation, field) of each top-level config key, in the model's order."""
    return [(key, field.annotation, field) for key, field in EnvironmentConfig.model_fields.items()]


def models_of(annotation: Any) -> list[type[BaseModel]]:
    """The models reachable from `annotation`, each once, in order of first appearance."""
    found: list[type[BaseModel]] = []

    def walk(ann: Any) -> None:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            if ann in found:
                return
            found.append(ann)
            for field in ann.model_fields.values():
                walk(field.annotation)
            return
        for arg in get_args(ann):
            walk(arg)

    walk(annotation)
    return found


def render() -> str:
    out = [_HEADER.format(ns=NAMESPACE)]
    done: set[type[BaseModel]] = set()
    for key, annotation, field in sections():
        out.append(f"## `{NAMESPACE}:{key}`\n")
        models = models_of(annotation)
        doc = _section_doc(models[0] if models else None, key)
        if doc:
            out.append(doc + "\n")
        if not models:
            out.append(_table([(key, field)], None))
            continue
        if get_origin(_bare(annotation)) in (tuple, list):
            out.append(f"A list of [{models[0].__name__}](#{_anchor(models[0])}).\n")
        for model in models:
            if model in done:
                continue
            done.add(model)
            out.append(f"### {model.__name__}\n")
            summary = _summary(model)
            if summary:
                out.append(summary + "\n")
            checks = [m for d in model.__pydantic_decorators__.model_validators.values() for m in _messages(d.func)]
            if checks:
                out.append("Refused as a whole: " + "; ".join(checks) + ".\n")
            out.append(_table(list(model.model_fields.items()), model))
    return "\n".join(out).rstrip() + "\n"


def _section_doc(model: type[BaseModel] | None, key: str) -> str:
    if key == "upstream":
        module = sys.modules[EnvironmentConfig.__module__.rsplit(".", 1)[0] + ".monitoring"]
    elif model is None:
        return ""
    else:
        module = sys.modules[model.__module__]
    doc = inspect.cleandoc(module.__doc__ or "")
    return "" if key == "upstream" else doc


def _summary(model: type[BaseModel]) -> str:
    doc = model.__doc__ or ""
    if doc.startswith(f"{model.__name__}(") or not doc.strip() or model.__doc__ == BaseModel.__doc__:
        return ""
    return inspect.cleandoc(doc)


def _table(fields: list[tuple[str, FieldInfo]], model: type[BaseModel] | None) -> str:
    notes = _comments(model) if model is not None else {}
    rows = ["| field | type | default | constraints | notes |", "|---|---|---|---|---|"]
    for name, field in fields:
        shown = field.alias or name
        rows.append("| " + " | ".join([
            f"`{shown}`", _type(field.annotation), _default(field), _constraints(field, model, name),
            _cell(" ".join(filter(None, [field.description or "", notes.get(name, "")]))),
        ]) + " |")
    return "\n".join(rows) + "\n"


def _bare(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _type(annotation: Any) -> str:
    annotation = _bare(annotation)
    origin = get_origin(annotation)
    if annotation is type(None):
        return "null"
    if origin in (Union, types.UnionType):
        args = get_args(annotation)
        text = " or ".join(_type(a) for a in args if a is not type(None))
        return f"{text} or null" if type(None) in args else text
    if origin is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in get_args(annotation))
    if origin in (tuple, list):
        return f"list of {_type(get_args(annotation)[0])}"
    if origin is dict:
        key, value = get_args(annotation)
        return f"map of {'name' if _bare(key) is str else _type(key)} → {_type(value)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{_anchor(annotation)})"
    return {int: "integer", str: "string", bool: "boolean", float: "number", Any: "any",
            ipaddress.IPv4Network: "IPv4 network (CIDR)", ipaddress.IPv4Address: "IPv4 address",
            }.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv4Address)):
        return str(value)
    return value


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "*required*"
    value = field.default_factory() if field.default_factory is not None else field.default
    return f"`{_cell(json.dumps(_plain(value), separators=(', ', ': ')))}`"


_BOUNDS = {"ge": "≥ {}", "gt": "> {}", "le": "≤ {}", "lt": "< {}", "min_length": "at least {} entries",
           "max_length": "at most {} entries", "multiple_of": "multiple of {}", "pattern": "matches `{}`"}


def _constraints(field: FieldInfo, model: type[BaseModel] | None = None, name: str = "") -> str:
    found = []
    for item in field.metadata:
        for attribute, text in _BOUNDS.items():
            value = getattr(item, attribute, None)
            if value is not None:
                if attribute == "min_length" and _type(field.annotation) == "string":
                    text = "at least {} characters"
                found.append(text.format(value))
    refused = []
    for func in _validators(model, name, field.annotation):
        refused.extend(m for m in _messages(func) if m not in refused)
    if refused:
        found.append("refused: " + "; ".join(refused))
    return _cell(", ".join(found))


def _validators(model: type[BaseModel] | None, name: str, annotation: Any) -> list[Any]:
    """The validator functions of one field: the model's (not the shared ones of every field) and
    those annotated on the field's items (`tuple[Annotated[str, AfterValidator(...)], ...]`)."""
    funcs = []
    if model is not None:
        for decorator in model.__pydantic_decorators__.field_validators.values():
            if name in decorator.info.fields:
                funcs.append(decorator.func)

    def walk(ann: Any) -> None:
        if get_origin(ann) is Annotated:
            funcs.extend(getattr(meta, "func") for meta in get_args(ann)[1:] if hasattr(meta, "func"))
        for arg in get_args(ann):
            walk(arg)

    walk(annotation)
    return funcs


def _messages(func: Any, depth: int = 0) -> list[str]:
    """The messages a validator (and the config helpers it calls) refuses values with."""
    func = getattr(func, "__func__", func)
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return []
    if func.__name__ == "<lambda>":
        source = source[source.index("lambda"):]
    found = []
    for call in re.findall(r'raise ValueError\(\s*((?:f?"(?:[^"\\]|\\.)*"\s*)+)', source):
        text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', call))
        found.append(re.sub(r"\{[^}]*\}", "…", text))
    if depth < 2:
        for called in re.findall(r"\b(\w+)\(", source):
            target = getattr(func, "__globals__", {}).get(called)
            if (inspect.isfunction(target) and target is not func
                    and target.__module__.startswith(("stacks.config", "components"))):
                found.extend(m for m in _messages(target, depth + 1) if m not in found)
    return found


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The comment beside (or just above) each field in the model's source."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):
        return {}
    notes: dict[str, str] = {}
    above: list[str] = []
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# ").strip())
            continue
        match = re.match(r"^    (\w+)\s*:[^=]*?(?:=.*?)?(?:#\s*(.*))?$", line)
        if match and match.group(1) in model.model_fields:
            text = " ".join([*above, match.group(2) or ""]).strip()
            if text:
                notes[match.group(1)] = text
        above = []
    return notes


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.config.reference", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/CONFIG.md is not current")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is not current: run python -m stacks.config.reference", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
