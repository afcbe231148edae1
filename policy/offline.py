"""`python -m policy.offline --env mirkwood`: the policy pack over the offline synth's resources.json.

`make policy` runs it in the pack's own virtualenv, where it calls the very policy objects the
Pulumi CLI loads (`policy/pack.py`: `validate(args, report)` with the SDK's argument types).
Without pulumi_policy installed it evaluates the same rule functions directly and says so.
Exit status 1 when a mandatory policy is violated; advisory findings are printed, never fatal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python policy/offline.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy import rules  # noqa: E402


def load(path: Path) -> list[dict[str, Any]]:
    """The registered resources of a synth run (providers and reads included, as the engine sees them)."""
    records = json.loads(path.read_text())
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of resources")
    return [r for r in records if r.get("kind", "register") == "register"]


def evaluate_with_rules(records: Sequence[dict[str, Any]]) -> list[rules.Violation]:
    return rules.evaluate([rules.Resource.from_record(r) for r in records])


def evaluate_with_pack(records: Sequence[dict[str, Any]]) -> list[rules.Violation]:
    """Run the pack's pulumi_policy objects, with the SDK's own argument types, over the records."""
    from pulumi_policy import (
        PolicyCustomTimeouts,
        PolicyResource,
        PolicyResourceOptions,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
    )
    from pulumi_policy.proxy import unknown_checking_proxy

    from policy import pack

    levels = {rule.name: rule.enforcement for rule in (*rules.RESOURCE_RULES, *rules.STACK_RULES)}

    def options(record: dict[str, Any]) -> PolicyResourceOptions:
        opts = record.get("options") or {}
        return PolicyResourceOptions(
            protect=bool(opts.get("protect", False)),
            ignore_changes=list(opts.get("ignore_changes") or []),
            delete_before_replace=bool(opts.get("delete_before_replace", False)),
            aliases=[],
            custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
            additional_secret_outputs=list(opts.get("additional_secret_outputs") or []),
            parent=record.get("parent"),
        )

    found: list[rules.Violation] = []

    def reporter(name: str, default_urn: str):
        def report(message: str, urn: str | None = None) -> None:
            found.append(rules.Violation(levels[name], name, urn or default_urn, message))

        return report

    for policy in pack.policies():
        if isinstance(policy, ResourceValidationPolicy):
            for record in records:
                args = ResourceValidationArgs(record["type"], unknown_checking_proxy(record.get("inputs") or {}),
                                              record["urn"], record["name"], options(record), None)
                policy.validate(args, reporter(policy.name, record["urn"]))
        elif isinstance(policy, StackValidationPolicy):
            by_urn = {
                r["urn"]: PolicyResource(r["type"], unknown_checking_proxy(r.get("inputs") or {}), r["urn"], r["name"],
                                         options(r), None, None, [], {})
                for r in records
            }
            for record in records:
                if record.get("parent") in by_urn:
                    by_urn[record["urn"]].parent = by_urn[record["parent"]]
            policy.validate(StackValidationArgs(list(by_urn.values())), reporter(policy.name, ""))
    return sorted(set(found), key=lambda v: (v.enforcement != "mandatory", v.policy, v.urn, v.message))


def engine() -> str:
    try:
        import pulumi_policy  # noqa: F401
    except ImportError:
        return "rules"
    return "pack"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policy.offline", description=__doc__.split("\n")[0])
    parser.add_argument("--env", action="append", help="environment(s) to check (default: mirkwood and lothlorien)")
    parser.add_argument("--build", type=Path, default=Path("build"), help="synth output folder (default: build)")
    parser.add_argument("resources", nargs="*", type=Path, help="resources.json file(s) instead of --env")
    args = parser.parse_args(argv)
    paths = list(args.resources) or [args.build / env / "resources.json" for env in (args.env or ["mirkwood", "lothlorien"])]
    how = engine()
    evaluate = evaluate_with_pack if how == "pack" else evaluate_with_rules
    failed = False
    for path in paths:
        if not path.exists():
            print(f"policy: {path}: missing; run `make synth ENV=<env>` first", file=sys.stderr)
            failed = True
            continue
        records = load(path)
        violations = evaluate(records)
        mandatory = [v for v in violations if v.enforcement == "mandatory"]
        print(f"policy {path}: {len(records)} resources, {len(mandatory)} mandatory violations, "
              f"{len(violations) - len(mandatory)} advisory"
              + ("" if how == "pack" else " (pulumi_policy not installed: rule functions evaluated directly)"))
        for violation in violations:
            stream = sys.stderr if violation.enforcement == "mandatory" else sys.stdout
            print(f"  {violation.line()}", file=stream)
        failed = failed or bool(mandatory)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
