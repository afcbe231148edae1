#!/usr/bin/env python3
"""Ansible dynamic inventory from the homelab stack outputs (contract: stacks/CONTRACT.md).

Reads the outputs of one environment, in this order:
  --outputs FILE            a `pulumi stack output --json` dump or the synth's build/<env>/outputs.json
  $HOMELAB_OUTPUTS          the same, as a path (for `ansible-inventory -i stacks/ansible_inventory.py`)
  stdin                     when it is not a terminal: `pulumi stack output --json | python -m ...`
  `pulumi stack output --json [--stack $HOMELAB_STACK]`   otherwise (needs the Pulumi CLI)

and answers Ansible's inventory-script protocol:
  --list        every group with its hosts, `all.vars`, and `_meta.hostvars`
  --host NAME   the variables of one host (`{}` for an unknown one, as Ansible expects)

Groups: the hosts' own groups/roles from the stack, plus `platform_<platform>`,
`distribution_<distribution>` and `env_<environment>`. Names are made Ansible-safe
(letters, digits, underscores). Standard library only: Ansible runs it with any Python 3.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from typing import Any, Iterable, Mapping

SUPPORTED_MAJOR = 2
# pulumi.runtime.rpc's envelope for secrets, as found in raw mock/synth dumps.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


class InventoryError(Exception):
    pass


def group_name(text: str) -> str:
    """An Ansible-safe group name: ``k3s-server`` -> ``k3s_server``."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if not name[:1].isdigit() else f"_{name}"


def _plain(value: Any) -> Any:
    """Strip Pulumi secret envelopes; the Pulumi CLI's ``[secret]`` placeholder stays as it is."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_outputs(text: str) -> dict:
    """The stack outputs dict from either format (a bare outputs map, or {"outputs": {...}})."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryError(f"stack outputs are not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InventoryError("stack outputs must be a JSON object")
    if "inventory" not in data and isinstance(data.get("outputs"), dict):
        data = data["outputs"]
    data = _plain(data)
    version = str(data.get("contract_version", ""))
    if not version:
        raise InventoryError("no contract_version in the stack outputs: not a homelab stack?")
    if version.split(".")[0] != str(SUPPORTED_MAJOR):
        raise InventoryError(f"contract_version {version} is not supported (this script reads {SUPPORTED_MAJOR}.x)")
    if not isinstance(data.get("inventory"), list):
        raise InventoryError("the stack outputs have no inventory list")
    return data


def hostvars(host: Mapping[str, Any], environment: str) -> dict:
    addresses = host.get("addresses") or {}
    out = {
        "ansible_host": addresses.get("primary"),
        "ansible_user": host.get("ssh_user"),
        "homelab_environment": environment,
        "homelab_fqdn": host.get("fqdn"),
        "homelab_platform": host.get("platform"),
        "homelab_distribution": host.get("distribution"),
        "homelab_groups": list(host.get("groups") or []),
    }
    if addresses.get("private"):
        out["homelab_private_address"] = addresses["private"]
    connection = host.get("connection") or {}
    if connection.get("type") == "incus":
        # Behind an Incus NAT bridge: through `incus exec` on the remote (community.general.incus).
        out.update(ansible_connection="community.general.incus", ansible_incus_host=host.get("name"),
                   ansible_incus_remote=connection.get("remote"))
    return {k: v for k, v in out.items() if v is not None}


def build_inventory(outputs: Mapping[str, Any]) -> dict:
    environment = (outputs.get("environment") or {}).get("name", "")
    groups: dict[str, set[str]] = {}
    meta: dict[str, dict] = {}

    def add(group: str, host: str) -> None:
        groups.setdefault(group_name(group), set()).add(host)

    for host in outputs["inventory"]:
        name = host["name"]
        meta[name] = hostvars(host, environment)
        for group in host.get("groups") or []:
            add(group, name)
        add(f"platform_{host.get('platform')}", name)
        if host.get("distribution"):
            add(f"distribution_{host['distribution']}", name)
        if environment:
            add(f"env_{environment}", name)

    inventory: dict[str, Any] = {
        name: {"hosts": sorted(members)} for name, members in sorted(groups.items())
    }
    grouped = set().union(*groups.values()) if groups else set()
    inventory["ungrouped"] = {"hosts": sorted(set(meta) - grouped)}
    all_vars = {"homelab_environment": environment, "homelab_contract_version": outputs["contract_version"]}
    endpoints = outputs.get("endpoints") or {}
    for key in sorted(endpoints):
        if endpoints[key] is not None:
            all_vars[f"homelab_endpoint_{key}"] = endpoints[key]
    k3s = outputs.get("k3s") or {}
    if k3s.get("api_endpoint"):
        all_vars["homelab_k3s_api_endpoint"] = k3s["api_endpoint"]
    inventory["all"] = {"children": sorted([*groups, "ungrouped"]), "vars": all_vars}
    inventory["_meta"] = {"hostvars": dict(sorted(meta.items()))}
    return inventory


def read_source(path: str | None) -> str:
    path = path or os.environ.get("HOMELAB_OUTPUTS")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except OSError as exc:
            raise InventoryError(f"cannot read {path}: {exc.strerror}") from None
    if not sys.stdin.isatty():
        text = sys.stdin.read()
        if text.strip():
            return text
    argv = ["pulumi", "stack", "output", "--json"]
    if os.environ.get("HOMELAB_STACK"):
        argv += ["--stack", os.environ["HOMELAB_STACK"]]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InventoryError("no outputs given (--outputs, $HOMELAB_OUTPUTS or stdin) and no pulumi CLI") from None
    if done.returncode != 0:
        raise InventoryError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", metavar="FILE", help="stack outputs JSON (default: $HOMELAB_OUTPUTS, stdin, pulumi)")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--list", action="store_true", help="the whole inventory")
    mode.add_argument("--host", metavar="NAME", help="the variables of one host")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        inventory = build_inventory(load_outputs(read_source(args.outputs)))
    except InventoryError as exc:
        print(f"ansible_inventory: {exc}", file=sys.stderr)
        return 2
    result = inventory if args.list else inventory["_meta"]["hostvars"].get(args.host, {})
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
