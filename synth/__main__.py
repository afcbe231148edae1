"""`python -m synth --env mirkwood`: render the environment offline into build/<env>/."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

from stacks.config import stackfile
from stacks.config.loader import ConfigError

from . import artifacts, conformance, engine


def write(result: engine.SynthResult, out: Path) -> dict[str, str]:
    """Write resources.json, outputs.json and every artifact; return the artifacts written."""
    if out.exists():
        shutil.rmtree(out)
    (out / "artifacts").mkdir(parents=True)
    dump = lambda value: json.dumps(value, indent=2, sort_keys=True) + "\n"  # noqa: E731
    (out / "resources.json").write_text(dump(result.resources))
    (out / "outputs.json").write_text(dump(result.outputs))
    files = artifacts.extract(result.resources)
    for relative, text in files.items():
        path = out / "artifacts" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return files


def leaks(out: Path, secret_values: dict[str, str]) -> list[str]:
    """Files under `out` that contain a secret value in clear text."""
    found = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        for key, value in sorted(secret_values.items()):
            if value and value in text:
                found.append(f"{path.relative_to(out)}: secret {key} appears unmasked")
    return found


def summary(result: engine.SynthResult, out: Path, files: dict[str, str], checks: dict[str, str]) -> str:
    by_type = Counter(r["type"] for r in result.resources if r["custom"])
    components = {r["urn"]: r for r in result.resources if not r["custom"]}

    def top(res: dict) -> str:
        parent = res["parent"]
        while parent in components and components[parent]["parent"] in components:
            parent = components[parent]["parent"]
        return components[parent]["type"] if parent in components else "(stack)"

    by_component = Counter(top(r) for r in result.resources if r["custom"])
    by_kind = Counter(path.split("/", 1)[0] for path in files)
    lines = [
        f"homelab synth: {result.env} -> {out}",
        f"  resources: {sum(by_type.values())} custom, {len(components)} components",
        "  by component:",
        *(f"    {count:4d}  {name}" for name, count in sorted(by_component.items())),
        "  by type:",
        *(f"    {count:4d}  {name}" for name, count in sorted(by_type.items())),
        f"  artifacts: {len(files)} files ({', '.join(f'{k} {v}' for k, v in sorted(by_kind.items())) or 'none'})",
        f"  outputs: {', '.join(sorted(result.outputs)) or 'none'}",
        "  validations:",
        *(f"    {name}: {state}" for name, state in checks.items()),
    ]
    return "\n".join(lines)


def read_secrets(path: Path) -> dict[str, str]:
    """A secrets file: a JSON object of secret key -> string value; ConfigError otherwise (no value shown)."""
    name = stackfile.shown(path)
    try:
        values = json.loads(path.read_text())
    except OSError as error:
        raise ConfigError([f"{name}: cannot be read ({error.strerror})"]) from None
    except json.JSONDecodeError as error:
        raise ConfigError([f"{name}:{error.lineno}:{error.colno}: is not JSON: {error.msg}"]) from None
    if not isinstance(values, dict):
        raise ConfigError([f"{name}: must be a JSON object of secret key -> value"])
    bad = sorted(key for key, value in values.items() if not isinstance(value, str))
    if bad:
        raise ConfigError([f"{name}: {key}: must be a string (value not shown)" for key in bad])
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synth", description=__doc__)
    parser.add_argument("--env", default="mirkwood", help="stack to render (default: mirkwood)")
    parser.add_argument("--out", default="build", type=Path, help="output folder (default: build)")
    parser.add_argument("--secrets-file", type=Path,
                        help="JSON object of secret values (tests use canaries); each secret the config "
                             "needs must be in it unless --placeholders")
    parser.add_argument("--placeholders", action="store_true",
                        help="with --secrets-file: stand-ins for the secrets it lacks (without a secrets "
                             "file every secret is a stand-in)")
    parser.add_argument("--stack-dir", type=Path, default=engine.ROOT,
                        help="folder holding Pulumi.<env>.yaml and its peers (default: the project)")
    args = parser.parse_args(argv)
    stack_file = stackfile.shown(args.stack_dir / f"Pulumi.{args.env}.yaml")
    try:
        secret_values = read_secrets(args.secrets_file) if args.secrets_file else None
        result = engine.run(args.env, secret_values, stack_dir=args.stack_dir,
                            placeholders=args.placeholders or secret_values is None,
                            secrets_source=stackfile.shown(args.secrets_file) if args.secrets_file else "")
    except ConfigError as error:
        print(f"homelab synth: {args.env}: invalid configuration in {stack_file} "
              f"({len(error.lines)} problem{'s' if len(error.lines) != 1 else ''})", file=sys.stderr)
        for line in error.lines:
            print(f"  {line}", file=sys.stderr)
        return 2
    except ValueError as error:
        # A check the program makes on values it reads while it runs (an upstream stack's contract,
        # say): Pulumi wraps it in "While processing ..." lines; its own message is the last one.
        message = str(error).splitlines()[-1].removeprefix("ValueError has risen: ")
        print(f"homelab synth: {args.env}: the program failed: {message}", file=sys.stderr)
        return 1
    out = args.out / args.env
    files = write(result, out)
    problems = conformance.check([{**r, "inputs": result.revealed[r["urn"]]} for r in result.resources])
    leaked = leaks(out, result.secret_values)
    checks = {
        "config": f"valid ({len(result.secret_values)} secrets masked)",
        "provider conformance": "ok" if not problems else f"{len(problems)} problems",
        "secrets": "none unmasked" if not leaked else f"{len(leaked)} leaks",
    }
    print(summary(result, out, files, checks))
    for line in problems + leaked:
        print(f"  error: {line}", file=sys.stderr)
    return 1 if problems or leaked else 0


if __name__ == "__main__":
    sys.exit(main())
