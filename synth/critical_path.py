"""Critical path of a deployment, from the dependencies the offline synth records.

`pulumi up` runs every resource whose dependencies are done, in parallel. So the time `up` takes is
the longest chain of resources through the dependency graph, each weighted by how long its
create takes; the serial sum of all latencies is what a one-at-a-time tool would take.

Edges (what the engine waits for before it creates a resource):
- every URN in the entry's `dependencies` (input dependencies and `depends_on`; the SDK already
  expands a component dependency into the component's custom-resource descendants);
- the entry's `provider` (an explicit provider is itself a resource: a Kubernetes provider waits
  for the kubeconfig, so every Kubernetes object waits for the k3s server behind it);
- the entry's `parent` when the parent is a custom resource (the child needs the parent's URN,
  which the engine only hands out once the parent is created).
Component resources take no time; a dependency on one means its descendants.

Latency model: each custom resource is classified by the first rule in `rules` that matches it
(type, optionally a name regex, an input regex, an enclosing-component type regex), into one or
more kinds; its latency is the sum of the kinds' seconds. Defaults: `DEFAULT_KINDS` and
`DEFAULT_RULES` below (also in synth/BENCH.md); override with a YAML file (see `load_model`).

    python -m synth.critical_path --env mirkwood [--build build] [--latency my-latency.yaml] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

# ---------------------------------------------------------------------------------------------
# The latency model: one table of kinds (seconds each, and what it stands for) ...
# ---------------------------------------------------------------------------------------------
DEFAULT_KINDS: dict[str, tuple[float, str]] = {
    "image_download": (180.0, "Proxmox downloads a cloud image (~600 MB) to its storage"),
    "template_build": (60.0, "Proxmox creates the VM template and imports the image disk"),
    "snippet_upload": (5.0, "a cloud-init snippet uploaded to the Proxmox node over SSH"),
    "clone": (45.0, "a full clone of the template disk on local storage, VM started"),
    "boot_cloud_init": (120.0, "first boot and cloud-init (packages, guest agent) until the agent answers"),
    "container_create": (30.0, "an LXC/Incus container created from a template and started"),
    "cloud_instance": (120.0, "a cloud instance (Linode) provisioned, booted and cloud-init run"),
    "k3s_server": (90.0, "k3s server installed and its API ready (first server: cluster-init)"),
    "k3s_join": (45.0, "k3s agent installed and joined to the cluster, node Ready"),
    "k3s_converge": (10.0, "the install script re-run on a node already at the pinned version"),
    "chart_install": (90.0, "a Helm release installed and its workloads ready"),
    "k8s_object": (2.0, "a plain Kubernetes object applied"),
    "remote_command": (10.0, "any other command run over SSH"),
    "file_copy": (3.0, "a file copied over SSH"),
    "api_object": (3.0, "a small API object (firewall, DNS record, pool, user)"),
    "instant": (0.0, "bookkeeping without I/O: providers, random values, key pairs"),
    "default": (5.0, "a custom resource no rule matches"),
}


@dataclass(frozen=True)
class Rule:
    """Classify a custom resource. All given conditions must match (regexes use re.search)."""

    type: str  # exact type token, or a regex when it starts with '^'
    kinds: tuple[str, ...]
    name: str | None = None  # regex on the resource name
    inputs: Mapping[str, str] = field(default_factory=dict)  # dotted input path -> regex on its JSON
    within: str | None = None  # regex on the type of any enclosing component

    def matches(self, entry: Mapping[str, Any], within: Sequence[str]) -> bool:
        t = entry.get("type", "")
        if self.type.startswith("^"):
            if not re.search(self.type, t):
                return False
        elif t != self.type:
            return False
        if self.name is not None and not re.search(self.name, entry.get("name", "")):
            return False
        for path, pattern in self.inputs.items():
            value = _lookup(entry.get("inputs") or {}, path)
            if value is _MISSING:
                return False
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            if not re.search(pattern, text):
                return False
        if self.within is not None and not any(re.search(self.within, w) for w in within):
            return False
        return True


_MISSING = object()


def _lookup(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


_VM = "proxmoxve:index/vmLegacy:VmLegacy"
_CMD = "command:remote:Command"
_K3S_CREATE = r"(?i)k3s"

# ... and the rules that map resources to kinds, first match wins.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("^pulumi:providers:", ("instant",)),
    Rule("pulumi:pulumi:StackReference", ("instant",)),
    Rule("^(random|tls):", ("instant",)),
    Rule("proxmoxve:download/file:File", ("image_download",)),
    Rule(_VM, ("template_build",), inputs={"template": "^true$"}),
    Rule(_VM, ("clone", "boot_cloud_init"), inputs={"clone": "."}),
    Rule(_VM, ("template_build", "boot_cloud_init")),  # a VM built from an image, not cloned
    Rule("proxmoxve:index/fileLegacy:FileLegacy", ("snippet_upload",)),
    Rule("proxmoxve:index/containerLegacy:ContainerLegacy", ("container_create",)),
    Rule("^incus:index/instance:Instance$", ("container_create",)),
    Rule("linode:index/instance:Instance", ("cloud_instance",)),
    # k3s: a server install (not an agent) is the cluster's start; a join adds a node to it. The
    # k3s installer gets `server` or `agent` as its command; the first server has cluster-init.
    # components/k3s: `<cluster>-agent-<host>-sync` converges a node its `-join` installed.
    Rule(_CMD, ("k3s_converge",), inputs={"create": _K3S_CREATE}, name=r"(?i)-sync$"),
    Rule(_CMD, ("k3s_server",), inputs={"create": _K3S_CREATE}, name=r"(?i)(^|-)(server|control)"),
    Rule(_CMD, ("k3s_join",), inputs={"create": _K3S_CREATE}, name=r"(?i)(^|-)(agent|worker|join)"),
    Rule(_CMD, ("k3s_server",), within=r"(?i)k3s.*(server|controlplane)"),
    Rule(_CMD, ("k3s_join",), within=r"(?i)k3s.*(agent|worker|node)"),
    Rule(_CMD, ("k3s_join",), inputs={"create": r"(?i)k3s.*\bagent\b|K3S_URL"}),
    Rule(_CMD, ("k3s_server",), inputs={"create": r"(?i)k3s.*\bserver\b|cluster-init"}),
    Rule(_CMD, ("remote_command",)),
    Rule("command:remote:CopyToRemote", ("file_copy",)),
    Rule("command:local:Command", ("remote_command",)),
    Rule("^kubernetes:helm.sh/v[34]:(Release|Chart)$", ("chart_install",)),
    Rule("^kubernetes:", ("k8s_object",)),
    Rule("^(linode|proxmoxve|incus):", ("api_object",)),
)


@dataclass(frozen=True)
class LatencyModel:
    kinds: Mapping[str, float]
    rules: tuple[Rule, ...]

    def classify(self, entry: Mapping[str, Any], within: Sequence[str] = ()) -> tuple[str, ...]:
        for rule in self.rules:
            if rule.matches(entry, within):
                return rule.kinds
        return ("default",)

    def seconds(self, kinds: Iterable[str]) -> float:
        return float(sum(self.kinds[k] for k in kinds))


def default_model() -> LatencyModel:
    return LatencyModel({k: v[0] for k, v in DEFAULT_KINDS.items()}, DEFAULT_RULES)


def load_model(path: str | Path | None = None) -> LatencyModel:
    """The default model, overridden by a YAML file:

    ```yaml
    kinds:               # seconds; existing kinds change, new kinds are added
      image_download: 600
      ceph_volume: 20
    rules:               # checked before the default rules, first match wins
      - type: command:remote:Command
        name: "-k3s-install$"     # optional regex on the resource name
        inputs: {create: "server"} # optional: dotted input path -> regex
        within: "homelab:k3s:"    # optional regex on an enclosing component's type
        kinds: [k3s_server]
    ```
    """
    model = default_model()
    if path is None:
        return model
    data = yaml.safe_load(Path(path).read_text()) or {}
    unknown = set(data) - {"kinds", "rules"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} (expected kinds, rules)")
    kinds = dict(model.kinds)
    for k, v in (data.get("kinds") or {}).items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{path}: kinds.{k}: seconds must be a number >= 0 (got {v!r})")
        kinds[k] = float(v)
    rules = []
    for i, r in enumerate(data.get("rules") or []):
        extra = set(r) - {"type", "name", "inputs", "within", "kinds"}
        if extra or "type" not in r or "kinds" not in r:
            raise ValueError(f"{path}: rules[{i}]: needs type and kinds, may have name, inputs, within")
        for k in r["kinds"]:
            if k not in kinds:
                raise ValueError(f"{path}: rules[{i}].kinds: unknown kind {k!r} (add it under kinds)")
        rules.append(
            Rule(r["type"], tuple(r["kinds"]), r.get("name"), dict(r.get("inputs") or {}), r.get("within"))
        )
    return LatencyModel(kinds, tuple(rules) + model.rules)


# ---------------------------------------------------------------------------------------------
# The graph and its longest path
# ---------------------------------------------------------------------------------------------
def load_resources(path: str | Path) -> list[dict[str, Any]]:
    data = json.loads(Path(path).read_text())
    if isinstance(data, Mapping):
        data = data["resources"]
    return list(data)


def provider_urn(ref: str | None, known: Mapping[str, Any]) -> str | None:
    """A provider reference is `URN::ID`; some records keep the bare URN."""
    if not ref:
        return None
    if ref in known:
        return ref
    urn = ref.rsplit("::", 1)[0]
    return urn if urn in known else None


def is_custom(entry: Mapping[str, Any]) -> bool:
    if "custom" in entry:
        return bool(entry["custom"])
    t = entry["type"]
    # Component types are `pkg:module:Name` tokens registered by the program (homelab:...), the
    # stack is a component; providers and package resources are custom.
    return not (t.startswith("homelab:") or t == "pulumi:pulumi:Stack")


@dataclass(frozen=True)
class Step:
    urn: str
    type: str
    name: str
    kinds: tuple[str, ...]
    seconds: float
    start: float
    finish: float


@dataclass(frozen=True)
class Edge:
    src: str  # must finish first
    dst: str
    why: str  # dependency | provider | parent


@dataclass
class Analysis:
    entries: dict[str, dict[str, Any]]
    custom: set[str]
    kinds: dict[str, tuple[str, ...]]
    seconds: dict[str, float]
    edges: list[Edge]
    finish: dict[str, float]
    path: list[Step]

    @property
    def up_seconds(self) -> float:
        return self.path[-1].finish if self.path else 0.0

    @property
    def serial_seconds(self) -> float:
        return float(sum(self.seconds.values()))

    def summary(self) -> dict[str, Any]:
        by_kind: dict[str, int] = {}
        for u in self.custom:
            for k in self.kinds[u]:
                by_kind[k] = by_kind.get(k, 0) + 1
        return {
            "resources": len(self.entries),
            "custom_resources": len(self.custom),
            "edges": len(self.edges),
            "up_seconds": self.up_seconds,
            "serial_seconds": self.serial_seconds,
            "speedup": round(self.serial_seconds / self.up_seconds, 2) if self.up_seconds else None,
            "kinds": dict(sorted(by_kind.items())),
            "critical_path": [
                {"urn": s.urn, "type": s.type, "name": s.name, "kinds": list(s.kinds),
                 "seconds": s.seconds, "start": s.start, "finish": s.finish}
                for s in self.path
            ],
        }


def analyse(resources: Iterable[Mapping[str, Any]], model: LatencyModel | None = None) -> Analysis:
    model = model or default_model()
    entries = {e["urn"]: dict(e) for e in resources}
    children: dict[str, list[str]] = {}
    for urn, e in entries.items():
        if e.get("parent") in entries:
            children.setdefault(e["parent"], []).append(urn)
    custom = {u for u, e in entries.items() if is_custom(e)}

    def within(urn: str) -> list[str]:
        out, p = [], entries[urn].get("parent")
        while p in entries:
            out.append(entries[p]["type"])
            p = entries[p].get("parent")
        return out

    def expand(urn: str) -> list[str]:
        """A component stands for its custom descendants (not the children of those)."""
        if urn in custom:
            return [urn]
        out, todo = [], list(children.get(urn, ()))
        while todo:
            c = todo.pop()
            if c in custom:
                out.append(c)
            else:
                todo.extend(children.get(c, ()))
        return out

    kinds = {u: model.classify(entries[u], within(u)) for u in sorted(custom)}
    seconds = {u: model.seconds(k) for u, k in kinds.items()}

    edges: set[Edge] = set()
    for urn in sorted(custom):
        e = entries[urn]
        for d in e.get("dependencies") or ():
            if d in entries:
                edges.update(Edge(s, urn, "dependency") for s in expand(d) if s != urn)
        p = provider_urn(e.get("provider"), entries)
        if p:
            edges.add(Edge(p, urn, "provider"))
        parent = e.get("parent")
        if parent in custom:
            edges.add(Edge(parent, urn, "parent"))
    edge_list = sorted(edges, key=lambda x: (x.dst, x.src, x.why))
    preds: dict[str, list[str]] = {u: [] for u in custom}
    for ed in edge_list:
        preds[ed.dst].append(ed.src)

    # Longest path by memoised DFS (iterative: graphs of thousands of nodes).
    finish: dict[str, float] = {}
    best_pred: dict[str, str | None] = {}
    state: dict[str, int] = {}
    for root in sorted(custom):
        stack = [root]
        while stack:
            u = stack[-1]
            if u in finish:
                stack.pop()
                continue
            if state.get(u) == 1:
                # All predecessors done: the latest one decides (ties: smallest URN, for
                # deterministic output).
                start, pred = 0.0, None
                for p in sorted(preds[u]):
                    if pred is None or finish[p] > start:
                        start, pred = finish[p], p
                finish[u] = start + seconds[u]
                best_pred[u] = pred
                stack.pop()
                continue
            state[u] = 1
            for p in preds[u]:
                if p not in finish:
                    if state.get(p) == 1:
                        raise ValueError(f"dependency cycle through {p}")
                    stack.append(p)

    path: list[Step] = []
    if finish:
        end = max(sorted(finish), key=lambda u: finish[u])
        chain: list[str] = []
        u: str | None = end
        while u is not None:
            chain.append(u)
            u = best_pred[u]
        chain.reverse()
        # A chain starting at things that take no time (a provider ready at the start) starts
        # really at the first resource that takes some.
        while len(chain) > 1 and seconds[chain[0]] == 0:
            chain.pop(0)
        for u in chain:
            e = entries[u]
            path.append(Step(u, e["type"], e["name"], kinds[u], seconds[u], finish[u] - seconds[u], finish[u]))
    return Analysis(entries, custom, kinds, seconds, edge_list, finish, path)


def markdown_tables(model: LatencyModel | None = None) -> str:
    """The kinds and rules tables of synth/BENCH.md (a test keeps the two in step)."""
    model = model or default_model()
    cell = lambda text: text.replace("|", "\\|")  # noqa: E731
    lines = ["| kind | seconds | stands for |", "|---|---|---|"]
    for kind, seconds in model.kinds.items():
        lines.append(f"| `{kind}` | {seconds:g} | {DEFAULT_KINDS.get(kind, (0, ''))[1]} |")
    lines += ["", "| type | condition | kinds |", "|---|---|---|"]
    for r in model.rules:
        cond = [f"name ~ `{cell(r.name)}`"] if r.name else []
        cond += [f"`{path}` ~ `{cell(rx)}`" for path, rx in r.inputs.items()]
        cond += [f"inside a component ~ `{cell(r.within)}`"] if r.within else []
        lines.append(f"| `{cell(r.type)}` | {', '.join(cond) or 'any'} | {' + '.join(r.kinds)} |")
    return "\n".join(lines)


def _fmt(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def report(a: Analysis) -> str:
    lines = [
        f"resources: {len(a.entries)} ({len(a.custom)} custom), edges: {len(a.edges)}",
        f"estimated `up`: {_fmt(a.up_seconds)} ({a.up_seconds:.0f} s) on the critical path",
        f"serial sum:     {_fmt(a.serial_seconds)} ({a.serial_seconds:.0f} s) one resource at a time",
    ]
    if a.up_seconds:
        lines.append(f"parallel speedup: {a.serial_seconds / a.up_seconds:.1f}x")
    lines.append("critical path (start -> finish, seconds, kinds, resource):")
    for s in a.path:
        lines.append(
            f"  {s.start:7.0f} -> {s.finish:7.0f}  {s.seconds:5.0f}  {'+'.join(s.kinds):<28} {s.type} {s.name}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.critical_path", description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="mirkwood")
    ap.add_argument("--build", default="build")
    ap.add_argument("--resources", help="a resources.json (default: BUILD/ENV/resources.json)")
    ap.add_argument("--latency", help="YAML file overriding the latency model (see synth/BENCH.md)")
    ap.add_argument("--json", action="store_true", help="print the analysis as JSON")
    ap.add_argument("--markdown", action="store_true", help="print the model as the tables of synth/BENCH.md")
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown_tables(load_model(args.latency)))
        return 0
    path = Path(args.resources or Path(args.build) / args.env / "resources.json")
    if not path.exists():
        print(f"{path}: not found; run `make synth ENV={args.env}` first", file=sys.stderr)
        return 2
    a = analyse(load_resources(path), load_model(args.latency))
    print(json.dumps(a.summary(), indent=2, sort_keys=True) if args.json else report(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
