#!/usr/bin/env python3
"""Put an environment's secret config into its stack before a preview or up in GitHub Actions.

Reads a JSON object of camelCase config keys -> values from the STACK_SECRETS environment variable
(one repository secret per environment, e.g. STACK_SECRETS_MIRKWOOD) and runs
`pulumi config set --secret --stack <stack> <key>` for each, the value on stdin: never on a command
line, never printed. Each value (and each line of a multi-line one, such as an SSH private key) is
registered with `::add-mask::` first, so that nothing prints it in clear in the log either.

Usage: python3 .github/scripts/stack_secrets.py --stack mirkwood   (needs the pulumi CLI, logged in)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

KEY = re.compile(r"^[a-z][A-Za-z0-9]*(-[A-Za-z0-9_.-]+)?$")  # proxmoxApiToken, mqttPassword-telegraf


@dataclass(frozen=True)
class Call:
    argv: tuple[str, ...]
    stdin: str


def parse(text: str | None) -> dict[str, str]:
    """The secrets object; errors name the key, never a value."""
    if not text:
        raise ValueError("STACK_SECRETS is empty: create the repository secret (see README.md, 'Delivery pipeline')")
    try:
        secrets = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"STACK_SECRETS is not a JSON object (line {error.lineno}, column {error.colno})") from None
    if not isinstance(secrets, dict):
        raise ValueError("STACK_SECRETS must be a JSON object of config key -> value")
    problems = [f"{key!r}: not a camelCase config key" for key in sorted(secrets) if not KEY.match(key)]
    problems += [f"{key}: value must be a non-empty string" for key, value in sorted(secrets.items())
                 if not isinstance(value, str) or not value]
    if problems:
        raise ValueError("STACK_SECRETS: " + "; ".join(problems))
    return secrets


def escape_data(value: str) -> str:
    """A workflow command's data as the runner expects it: it unescapes %25, %0D and %0A, so a value
    must be escaped the same way (actions/toolkit packages/core/src/command.ts, escapeData), or a
    secret holding `%0A` would be masked as a different string and stay visible in the log."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def masks(secrets: Mapping[str, str]) -> list[str]:
    """GitHub workflow commands that hide every value, whole and line by line, from the log."""
    values = set()
    for value in secrets.values():
        values.add(value)
        values.update(line for line in value.splitlines() if line.strip())
    return [f"::add-mask::{escape_data(value)}" for value in sorted(values)]


def plan(stack: str, secrets: Mapping[str, str]) -> list[Call]:
    return [Call(("pulumi", "config", "set", "--secret", "--stack", stack, key), value)
            for key, value in sorted(secrets.items())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", required=True, choices=("mirkwood", "lothlorien"))
    args = parser.parse_args(argv)
    try:
        secrets = parse(os.environ.get("STACK_SECRETS"))
    except ValueError as error:
        print(f"::error::{error}", file=sys.stderr)
        return 2
    for line in masks(secrets):
        print(line, flush=True)
    for call in plan(args.stack, secrets):
        done = subprocess.run(call.argv, input=call.stdin, text=True, capture_output=True)
        if done.returncode != 0:
            print(f"::error::pulumi config set {call.argv[-1]} failed: {done.stderr.strip()}", file=sys.stderr)
            return done.returncode
        print(f"set secret {call.argv[-1]} on stack {args.stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
