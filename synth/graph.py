"""The environment's dependency graph as Graphviz DOT, rendered to SVG and PNG with `dot`.

Components are clusters (nested as the program nests them), custom resources are nodes labelled
with their name, short type and estimated latency; an edge points from what must finish first to
what waits for it (solid: a data dependency or depends_on, dashed: an explicit provider, drawn only
on the critical path, dotted: a custom parent). The critical path (synth/critical_path.py) is drawn red and bold.

    python -m synth.graph --env mirkwood [--build build] [--latency FILE] [--out build/graph]
writes OUT/ENV.dot, OUT/ENV.svg and OUT/ENV.png.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from synth.critical_path import Analysis, analyse, load_model, load_resources

CRITICAL = "#d62728"


def _q(s: str) -> str:
    """A DOT string; a newline becomes a centred line break."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def short_type(t: str) -> str:
    """`proxmoxve:index/vmLegacy:VmLegacy` -> `proxmoxve:VmLegacy`."""
    parts = t.split(":")
    return f"{parts[0]}:{parts[-1]}" if len(parts) == 3 else t


def to_dot(a: Analysis, title: str = "") -> str:
    entries = a.entries
    on_path = {s.urn for s in a.path}
    path_edges = {(x.urn, y.urn) for x, y in zip(a.path, a.path[1:])}
    ids = {u: f"r{i}" for i, u in enumerate(sorted(entries))}
    children: dict[str | None, list[str]] = {}
    for u in sorted(entries):
        p = entries[u].get("parent")
        # A custom resource's children are drawn beside it, in its parent's cluster.
        while p in a.custom:
            p = entries[p].get("parent")
        key = p if p in entries and entries[p]["type"] != "pulumi:pulumi:Stack" else None
        children.setdefault(key, []).append(u)

    # A provider's edges to every resource of its package would hide the real structure: they are
    # drawn only on the critical path; the provider's box says how many resources use it. One that
    # waits for nothing is ready at the start and orders nothing at all.
    has_preds = {ed.dst for ed in a.edges}
    fanout: dict[str, int] = {}
    for ed in a.edges:
        if ed.why == "provider":
            fanout[ed.src] = fanout.get(ed.src, 0) + 1
    providers = {u for u in a.custom if entries[u]["type"].startswith("pulumi:providers:")}
    hidden = {u for u in providers if u not in has_preds}

    out = [
        "digraph homelab {",
        "  graph [rankdir=LR, fontname=Helvetica, fontsize=12, nodesep=0.25, ranksep=0.6, newrank=true,",
        f"         labelloc=t, label={_q(title)}];",
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f7f7f7\", fontname=Helvetica, fontsize=10];",
        "  edge [color=\"#888888\", arrowsize=0.6];",
    ]

    def emit(parent: str | None, depth: int) -> None:
        pad = "  " * depth
        for u in children.get(parent, ()):
            e = entries[u]
            if u in a.custom:
                secs = a.seconds[u]
                label = f"{e['name']}\n{short_type(e['type'])}\n{'+'.join(a.kinds[u])} {secs:.0f}s"
                if u in hidden:
                    label += f"\n(ready at start; provider of {fanout.get(u, 0)} resources)"
                elif u in providers:
                    label += f"\n(provider of {fanout.get(u, 0)} resources)"
                attrs = [f"label={_q(label)}"]
                if u in on_path:
                    attrs += [f"color={_q(CRITICAL)}", "penwidth=3", 'fillcolor="#fde0dd"']
                out.append(f"{pad}{ids[u]} [{', '.join(attrs)}];")
            elif e["type"] != "pulumi:pulumi:Stack":
                out.append(f"{pad}subgraph cluster_{ids[u]} {{")
                out.append(f"{pad}  label={_q(e['name'] + ' (' + short_type(e['type']) + ')')};")
                out.append(f'{pad}  style="rounded"; color="#4c72b0"; fontcolor="#4c72b0";')
                emit(u, depth + 1)
                out.append(f"{pad}}}")
            else:
                emit(u, depth)

    emit(None, 1)
    style = {"dependency": "solid", "provider": "dashed", "parent": "dotted"}
    for ed in sorted(a.edges, key=lambda x: (ids[x.src], ids[x.dst], x.why)):
        if ed.why == "provider" and (ed.src, ed.dst) not in path_edges:
            continue
        attrs = [f"style={style[ed.why]}"]
        if (ed.src, ed.dst) in path_edges:
            attrs += [f"color={_q(CRITICAL)}", "penwidth=3"]
        out.append(f"  {ids[ed.src]} -> {ids[ed.dst]} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def render(dot_file: Path, formats: Sequence[str] = ("svg", "png")) -> list[Path]:
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError("graphviz `dot` not found: apt-get install graphviz")
    outs = []
    for fmt in formats:
        target = dot_file.with_suffix(f".{fmt}")
        extra = ["-Gdpi=110"] if fmt == "png" else []
        subprocess.run([exe, f"-T{fmt}", *extra, "-o", str(target), str(dot_file)], check=True)
        outs.append(target)
    return outs


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.graph", description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="mirkwood")
    ap.add_argument("--build", default="build")
    ap.add_argument("--resources", help="a resources.json (default: BUILD/ENV/resources.json)")
    ap.add_argument("--latency", help="YAML file overriding the latency model (see synth/BENCH.md)")
    ap.add_argument("--out", help="output directory (default: BUILD/graph)")
    ap.add_argument("--no-render", action="store_true", help="write the DOT file only")
    args = ap.parse_args(argv)
    src = Path(args.resources or Path(args.build) / args.env / "resources.json")
    if not src.exists():
        print(f"{src}: not found; run `make synth ENV={args.env}` first", file=sys.stderr)
        return 2
    a = analyse(load_resources(src), load_model(args.latency))
    out_dir = Path(args.out or Path(args.build) / "graph")
    out_dir.mkdir(parents=True, exist_ok=True)
    dot_file = out_dir / f"{args.env}.dot"
    title = (f"{args.env}: {len(a.custom)} resources, critical path {a.up_seconds:.0f} s "
             f"(serial {a.serial_seconds:.0f} s)")
    dot_file.write_text(to_dot(a, title))
    written = [dot_file] + ([] if args.no_render else render(dot_file))
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
