"""Every rendered file the program hands to a provider, extracted from the registered inputs.

Each rule takes one resource record (type, name, inputs with secrets masked) and yields
(relative path, text). A masked value is never written: a secret stays in the state only.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from .wire import MASK

Artifact = tuple[str, str]
Rule = Callable[[dict[str, Any]], Iterator[Artifact]]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "unnamed"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value != MASK else None


def proxmox_snippet(res: dict[str, Any]) -> Iterator[Artifact]:
    source = res["inputs"].get("sourceRaw") or {}
    data = _text(source.get("data"))
    if data:
        yield f"proxmox/{_safe(source.get('fileName') or res['name'])}", data


def remote_command(res: dict[str, Any]) -> Iterator[Artifact]:
    for field in ("create", "update", "delete", "stdin"):
        text = _text(res["inputs"].get(field))
        if text and ("\n" in text or field == "stdin"):
            yield f"scripts/{_safe(res['name'])}.{field}.sh", text


def copy_to_remote(res: dict[str, Any]) -> Iterator[Artifact]:
    source = res["inputs"].get("source") or {}
    text = _text((source.get("$asset") or {}).get("text"))
    if text:
        yield f"files/{_safe(res['name'])}", text


def linode_instance(res: dict[str, Any]) -> Iterator[Artifact]:
    for index, metadata in enumerate(res["inputs"].get("metadatas") or []):
        encoded = _text(metadata.get("userData"))
        if encoded:
            try:
                decoded = base64.b64decode(encoded, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = encoded
            yield f"linode/{_safe(res['name'])}.user-data-{index}.yaml", decoded


def incus_instance(res: dict[str, Any]) -> Iterator[Artifact]:
    config = res["inputs"].get("config") or {}
    for key in sorted(config):
        text = _text(config[key])
        if key.startswith("cloud-init.") and text:
            yield f"incus/{_safe(res['name'])}.{key.removeprefix('cloud-init.')}.yaml", text


def kubernetes_object(res: dict[str, Any]) -> Iterator[Artifact]:
    inputs = res["inputs"]
    kind = inputs.get("kind") or res["type"].rsplit(":", 1)[-1]
    if "apiVersion" not in inputs or kind in ("Secret",):
        return
    namespace = (inputs.get("metadata") or {}).get("namespace") or "_cluster"
    name = (inputs.get("metadata") or {}).get("name") or res["name"]
    yield f"kubernetes/{_safe(namespace)}/{kind.lower()}-{_safe(name)}.yaml", yaml.safe_dump(inputs, sort_keys=True)
    if kind == "ConfigMap":
        for key, text in sorted((inputs.get("data") or {}).items()):
            if _text(text):
                yield f"configs/{_safe(namespace)}/{_safe(name)}/{_safe(key)}", text


def helm_release(res: dict[str, Any]) -> Iterator[Artifact]:
    values = res["inputs"].get("values")
    if values:
        yield f"helm/{_safe(res['name'])}.values.yaml", yaml.safe_dump(values, sort_keys=True)


RULES: dict[str, Rule] = {
    "proxmoxve:index/fileLegacy:FileLegacy": proxmox_snippet,
    "command:remote:Command": remote_command,
    "command:remote:CopyToRemote": copy_to_remote,
    "linode:index/instance:Instance": linode_instance,
    "incus:index/instance:Instance": incus_instance,
    "kubernetes:helm.sh/v3:Release": helm_release,
}


def extract(resources: list[dict[str, Any]]) -> dict[str, str]:
    """Relative path -> text for every artifact of the program, in a stable order."""
    files: dict[str, str] = {}
    for res in resources:
        rule = RULES.get(res["type"])
        if rule is None and res["type"].startswith("kubernetes:") and res["custom"]:
            rule = kubernetes_object
        if rule is None:
            continue
        for path, text in rule(res):
            files[path] = text
    return dict(sorted(files.items()))
