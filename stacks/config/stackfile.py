"""Read a Pulumi stack file (`Pulumi.<stack>.yaml`) as the CLI would, with clear answers.

A YAML syntax error, a top level (or `config:`) that is not a mapping and a key written twice in
one mapping are config errors of one line each, `FILE:LINE:COLUMN: ...`, never a traceback and
never a silent last-wins (the Pulumi CLI's Go YAML parser refuses a repeated key too: "mapping key
... already defined", go-yaml v3 decode.go). No value from the file is shown in these lines, so a
secret written by mistake stays unprinted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .base import ConfigError

PROJECT = "homelab"
# libyaml's parser when PyYAML has it (several times faster); the constructor stays Python, so
# the duplicate-key check below applies to both.
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def shown(path: Path) -> str:
    """How a stack file is named in messages: relative to the working folder when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


class _Loader(_BASE_LOADER):
    """SafeLoader that records every key repeated in a mapping instead of keeping the last."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[Any, yaml.Mark, yaml.Mark]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merges are YAML's way to override on purpose
            try:
                key = self.construct_object(key_node, deep=True)
                hash(key)
            except (TypeError, yaml.YAMLError):
                continue  # the base constructor reports an unhashable key
            if key in seen:
                self.duplicates.append((key, seen[key], key_node.start_mark))
            else:
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


@dataclass
class StackFile:
    """A stack file's config entries under full keys (`homelab:proxmox`), and which are `secure:`."""

    path: Path
    entries: dict[str, Any] = field(default_factory=dict)
    secure: set[str] = field(default_factory=set)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "empty"}.get(type(value), type(value).__name__)


def read(path: Path, name: str | None = None) -> StackFile:
    """Parse a stack file; raise ConfigError (one line per problem, FILE:LINE:COLUMN) when it is not
    a YAML mapping with a `config:` mapping, or repeats a key. `name` is how messages call the file."""
    label = name or shown(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError([f"{label}: cannot be read ({error.strerror})"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{label}: is not UTF-8 text (byte {error.start})"]) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        raise ConfigError([_syntax_line(label, error, text)]) from None
    except yaml.YAMLError as error:
        raise ConfigError([f"{label}:1:1: is not YAML ({type(error).__name__})"]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ConfigError([
            f"{label}:{again.line + 1}:{again.column + 1}: key {key!r} is repeated (first at line "
            f"{first.line + 1}); YAML would keep only the last one: remove or rename one of them"
            for key, first, again in sorted(loader.duplicates, key=lambda d: (d[2].line, d[2].column))])
    if document is None:
        document = {}
    if not isinstance(document, dict):
        mark = node.start_mark
        raise ConfigError([f"{label}:{mark.line + 1}:{mark.column + 1}: the top level is {_kind(document)}, "
                           "not a mapping; a stack file is a mapping with a 'config:' key"])
    config = document.get("config")
    if config is None:
        return StackFile(path)
    if not isinstance(config, dict):
        mark = _value_mark(node, "config")
        raise ConfigError([f"{label}:{mark.line + 1}:{mark.column + 1}: config: is {_kind(config)}, "
                           "not a mapping of config keys such as homelab:environment"])
    stack = StackFile(path)
    problems = []
    for key, value in config.items():
        if not isinstance(key, str):
            mark = _key_mark(_value_node(node, "config"), key)
            problems.append(f"{label}:{mark.line + 1}:{mark.column + 1}: config key {key!r} is not a name "
                            "such as homelab:environment")
            continue
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            stack.secure.add(full)
        stack.entries[full] = value
    if problems:
        raise ConfigError(problems)
    return stack


def _syntax_line(label: str, error: yaml.MarkedYAMLError, text: str = "") -> str:
    mark = error.problem_mark or error.context_mark
    where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark else f"{label}:1:1"
    problem = error.problem or "is not valid YAML"
    context = ""
    if error.context and error.context_mark and mark is not error.context_mark:
        context = f" ({error.context} at line {error.context_mark.line + 1})"
    lines = text.splitlines()
    if mark and mark.line < len(lines) and lines[mark.line][mark.column:mark.column + 1] == "\t":
        context += "; YAML indents with spaces, not tabs"
    return f"{where}: YAML syntax error: {problem}{context}"


def _value_node(root: yaml.Node, key: str) -> yaml.Node:
    for key_node, value_node in root.value:
        if getattr(key_node, "value", None) == key:
            return value_node
    return root


def _value_mark(root: yaml.Node, key: str) -> yaml.Mark:
    return _value_node(root, key).start_mark


def _key_mark(mapping: yaml.Node, key: Any) -> yaml.Mark:
    for key_node, _ in getattr(mapping, "value", ()):
        if getattr(key_node, "value", None) == str(key):
            return key_node.start_mark
    return mapping.start_mark
