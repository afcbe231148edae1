"""The dependency graph as DOT (synth/graph.py), rendered with Graphviz."""

from __future__ import annotations

import json
import re

import pytest

from synth import graph
from synth.critical_path import analyse
from tests.helpers import some
from tests.graph_fixture import cluster
from tests.tools import require_tool


def _dot(**kw) -> tuple[str, object]:
    a = analyse(cluster(**kw))
    return graph.to_dot(a, "test"), a


def test_components_are_clusters_and_custom_resources_nodes():
    dot, a = _dot(agents=2)
    components = some((e for e in a.entries.values() if e["type"].startswith("homelab:")), "component resources")
    assert dot.count("subgraph cluster_") == len(components)
    node_lines = re.findall(r"^\s+r\d+ \[label=", dot, re.M)
    assert len(node_lines) == len(a.custom)
    for e in components:
        assert f'label="{e["name"]} ({graph.short_type(e["type"])})";' in dot


def test_resources_sit_in_their_component_cluster():
    dot, a = _dot(agents=1)
    block = dot.split('label="k3s (homelab:Cluster)";', 1)[1].split("\n  }", 1)[0]
    assert "k3s-server-1-install" in block and "k3s-agent-1-install" in block
    assert "k3s-agent-1-vm" not in block


def test_critical_path_is_highlighted_and_only_it():
    dot, a = _dot(agents=3, vms=2)
    red_nodes = re.findall(r'^\s+(r\d+) \[.*color="#d62728", penwidth=3, fillcolor', dot, re.M)
    assert len(red_nodes) == len(a.path)
    red_edges = re.findall(r'^\s+r\d+ -> r\d+ \[.*color="#d62728"', dot, re.M)
    drawn_path_edges = [(x, y) for x, y in zip(a.path, a.path[1:])]
    assert len(red_edges) == len(drawn_path_edges)
    for s in a.path:
        assert s.name in dot


def test_dot_is_deterministic():
    assert _dot(agents=3)[0] == _dot(agents=3)[0]


@pytest.mark.system
def test_dot_renders_svg_and_png(tmp_path):
    require_tool("dot")
    src = tmp_path / "resources.json"
    src.write_text(json.dumps(cluster(agents=2)))
    assert graph.main(["--resources", str(src), "--env", "fixture", "--out", str(tmp_path / "g")]) == 0
    svg = (tmp_path / "g" / "fixture.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "k3s_server 90s" in svg and "<svg" in svg
    png = (tmp_path / "g" / "fixture.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


@pytest.mark.parametrize("env", ["mirkwood", "lothlorien"])
def test_real_environment_graph_has_every_component_and_resource(env, synth_result):
    a = analyse(synth_result(env).resources)
    dot = graph.to_dot(a, env)
    components = [e for e in a.entries.values() if not e["custom"]]
    assert dot.count("subgraph cluster_") == len(components)
    assert len(re.findall(r"^\s+r\d+ \[label=", dot, re.M)) == len(a.custom)
    assert dot.count(f'color="{graph.CRITICAL}", penwidth=3, fillcolor') == len(a.path)
