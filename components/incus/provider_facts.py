"""Facts about the lxc/incus Terraform provider, read mechanically from its source at the pinned
release and recorded in provider-facts.json beside this file, so the binding is checked against
what the provider declares rather than against names written down by hand (a typo in both would
pass).

Recorded per resource (and for the provider configuration): every attribute and nested block of
its terraform-plugin-framework `Schema(...)` function, with `required` / `optional` / `computed`
and whether a plan modifier `RequiresReplace` forces a new resource when it changes.

Regenerate after a bump of lxc/incus (binding.PROVIDER_VERSION), from a checkout of
github.com/lxc/terraform-provider-incus:

    python -m components.incus.provider_facts /path/to/terraform-provider-incus v1.1.1
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

FACTS_FILE = Path(__file__).with_name("provider-facts.json")

#: Terraform resource -> the provider source file that declares its schema.
SOURCES = {
    "provider": "internal/provider/provider.go",
    "incus_instance": "internal/instance/resource_instance.go",
    "incus_profile": "internal/profile/resource_profile.go",
    "incus_storage_volume": "internal/storage/resource_storage_volume.go",
    "incus_network": "internal/network/resource_network.go",
}

_ELEMENT = re.compile(r'"([a-z0-9_]+)":\s*schema\.(\w+)\{')
_FLAG = re.compile(r"\b(Required|Optional|Computed):\s*true\b")
_PLAN_MODIFIERS = re.compile(r"PlanModifiers:\s*\[\]planmodifier\.\w+\{")


def _closing(text: str, open_at: int) -> int:
    """Index of the brace closing the one at `open_at`."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced braces")


def _top_level(body: str) -> str:
    """`body` without any nested brace group: the element's own fields."""
    out, depth = [], 0
    for char in body:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _element(kind: str, body: str) -> dict[str, Any]:
    flags = set(_FLAG.findall(_top_level(body)))
    # Blocks carry no Required/Optional flag in terraform-plugin-framework: they may always be left out.
    optional = "Optional" in flags or kind.endswith("Block")
    fact: dict[str, Any] = {
        "kind": "required" if "Required" in flags else "optional" if optional else "computed",
        "requires_replace": False,
    }
    modifiers = _PLAN_MODIFIERS.search(body)
    if modifiers:
        end = _closing(body, modifiers.end() - 1)
        fact["requires_replace"] = "RequiresReplace" in body[modifiers.end():end]
    if "Nested" in kind:
        fact["nested"] = _elements(body)
        fact["block"] = kind.endswith("Block")
    return fact


def _elements(text: str) -> dict[str, dict[str, Any]]:
    """The schema elements in `text`, in order, each with its own nested elements."""
    found, at = {}, 0
    while match := _ELEMENT.search(text, at):
        end = _closing(text, match.end() - 1)
        found[match.group(1)] = _element(match.group(2), text[match.end():end])
        at = end + 1
    return found


def schema_facts(go_source: str) -> dict[str, dict[str, Any]]:
    """The elements of the `Schema(...)` method in one Go source file."""
    start = re.search(r"\)\s*Schema\(", go_source)
    if not start:
        raise ValueError("no Schema method")
    body_open = go_source.index("{", go_source.index(")", start.end()))
    return _elements(go_source[body_open:_closing(go_source, body_open) + 1])


def extract(checkout: Path, tag: str) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(checkout), *args], check=True, capture_output=True,
                              text=True).stdout

    return {
        "source": "github.com/lxc/terraform-provider-incus",
        "tag": tag,
        "commit": git("rev-parse", f"{tag}^{{commit}}").strip(),
        "schemas": {name: {"file": path, "elements": schema_facts(git("show", f"{tag}:{path}"))}
                    for name, path in SOURCES.items()},
    }


def load() -> dict[str, Any]:
    return json.loads(FACTS_FILE.read_text())


if __name__ == "__main__":
    facts = extract(Path(sys.argv[1]), sys.argv[2])
    FACTS_FILE.write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    print(f"{FACTS_FILE}: {len(facts['schemas'])} schemas from {facts['source']} {facts['tag']} ({facts['commit'][:12]})")
