"""Critical path under the latency model (synth/critical_path.py) and the depends_on check."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from synth import critical_path as cp
from synth.depends_on_check import check_paths, check_source
from tests.graph_fixture import Builder, cluster

ROOT = Path(__file__).resolve().parent.parent


def test_fixture_chain_is_image_template_clone_server_chart():
    a = cp.analyse(cluster(agents=2))
    kinds = [s.kinds for s in a.path]
    assert kinds == [
        ("image_download",), ("template_build",), ("clone", "boot_cloud_init"), ("k3s_server",),
        ("instant",), ("chart_install",),
    ]
    k = {k: v[0] for k, v in cp.DEFAULT_KINDS.items()}
    expected = (k["image_download"] + k["template_build"] + k["clone"] + k["boot_cloud_init"]
                + k["k3s_server"] + k["chart_install"])
    assert a.up_seconds == expected
    assert a.serial_seconds == sum(a.seconds.values()) > a.up_seconds


@pytest.mark.parametrize("agents,vms", [(1, 0), (2, 0), (5, 0), (2, 4), (8, 8)])
def test_adding_agents_or_vms_does_not_lengthen_the_fixture_path(agents, vms):
    base = cp.analyse(cluster(agents=1, vms=0))
    more = cp.analyse(cluster(agents=agents, vms=vms))
    assert more.up_seconds == base.up_seconds
    assert more.serial_seconds >= base.serial_seconds


def test_a_serial_chain_of_agents_would_lengthen_it():
    """The property above can fail: agents joined one after the other add up."""
    entries = cluster(agents=3)
    installs = [e for e in entries if e["name"].startswith("k3s-agent-") and e["name"].endswith("-install")]
    for prev, nxt in zip(installs, installs[1:]):
        nxt["dependencies"] = sorted(nxt["dependencies"] + [prev["urn"]])
    serial = cp.analyse(entries)
    assert serial.up_seconds > cp.analyse(cluster(agents=3)).up_seconds
    assert [s.name for s in serial.path][-3:] == [i["name"] for i in installs]


def test_component_dependency_means_its_custom_descendants():
    b = Builder()
    comp = b.add("homelab:proxmox:Vm", "slow")
    b.add("proxmoxve:download/file:File", "slow-image", parent=comp)
    waiter = b.add("command:remote:Command", "after", deps=[comp], inputs={"create": "true"})
    a = cp.analyse(b.entries)
    assert a.finish[waiter] == cp.DEFAULT_KINDS["image_download"][0] + cp.DEFAULT_KINDS["remote_command"][0]


def test_provider_and_custom_parent_are_edges():
    b = Builder()
    cmd = b.add("command:remote:Command", "k3s-server-1-install", inputs={"create": "k3s server"})
    kube = b.add("pulumi:providers:kubernetes", "kube", deps=[cmd])
    rel = b.add("kubernetes:helm.sh/v3:Release", "chart", provider=kube)
    child = b.add("kubernetes:core/v1:ConfigMap", "child", parent=rel)
    a = cp.analyse(b.entries)
    assert {(e.src, e.dst, e.why) for e in a.edges} == {
        (cmd, kube, "dependency"), (kube, rel, "provider"), (rel, child, "parent")}
    assert [s.urn for s in a.path] == [cmd, kube, rel, child]


def test_unknown_type_gets_the_default_latency():
    b = Builder()
    u = b.add("acme:index/widget:Widget", "w")
    a = cp.analyse(b.entries)
    assert a.kinds[u] == ("default",) and a.seconds[u] == cp.DEFAULT_KINDS["default"][0]


def test_cycle_is_reported():
    b = Builder()
    x = b.add("acme:index/widget:Widget", "x")
    y = b.add("acme:index/widget:Widget", "y", deps=[x])
    b.entries[1]["dependencies"] = [y]
    with pytest.raises(ValueError, match="cycle"):
        cp.analyse(b.entries)


def test_yaml_overrides_kinds_and_prepends_rules(tmp_path):
    f = tmp_path / "latency.yaml"
    f.write_text(textwrap.dedent("""\
        kinds:
          image_download: 600
          slow_agent: 300
        rules:
          - type: command:remote:Command
            name: "^k3s-agent-2-"
            kinds: [slow_agent]
        """))
    model = cp.load_model(f)
    a = cp.analyse(cluster(agents=2), model)
    assert a.path[0].seconds == 600
    slow = next(s for s in a.path if s.name == "k3s-agent-2-install")
    assert slow.kinds == ("slow_agent",) and a.path[-1] == slow


@pytest.mark.parametrize("text,message", [
    ("kinds: {clone: -1}", "kinds.clone: seconds must be a number >= 0"),
    ("rules: [{type: x, kinds: [nope]}]", "unknown kind 'nope'"),
    ("rules: [{kinds: [clone]}]", "needs type and kinds"),
    ("latency: {}", "unknown keys ['latency']"),
])
def test_bad_override_files_say_what_is_wrong(tmp_path, text, message):
    f = tmp_path / "latency.yaml"
    f.write_text(text)
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        cp.load_model(f)


def test_cli_reports_up_against_serial(tmp_path, capsys):
    f = tmp_path / "resources.json"
    f.write_text(json.dumps(cluster(agents=2)))
    assert cp.main(["--resources", str(f)]) == 0
    out = capsys.readouterr().out
    assert "estimated `up`: 9m45s (585 s)" in out and "serial sum:" in out
    assert cp.main(["--resources", str(f), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["up_seconds"] == 585 and summary["critical_path"][0]["name"] == "rocky9-image"


# --- depends_on must say why --------------------------------------------------------------------

def test_every_depends_on_in_components_and_stacks_has_a_comment():
    findings = check_paths([ROOT / "components", ROOT / "stacks"])
    assert findings == [], "\n".join(map(str, findings))


@pytest.mark.parametrize("src", [
    "opts = pulumi.ResourceOptions(depends_on=[vm])\n",
    "x = 1  # unrelated\nopts = ResourceOptions(\n    parent=self,\n    depends_on=[vm],\n)\n",
    "opts.depends_on = [vm]\n",
    "kw = {'depends_on': [vm]}\n",
    "# a comment about something else\n\ndeps = [vm]\nopts = ResourceOptions(depends_on=deps)\n",
])
def test_depends_on_without_a_comment_is_found(src):
    assert [f.line for f in check_source(src)] != []


@pytest.mark.parametrize("src", [
    "opts = pulumi.ResourceOptions(depends_on=[vm])  # the agent needs the server's API up\n",
    "# cloud-init must have finished: SSH alone is not enough\nopts = ResourceOptions(depends_on=[vm])\n",
    "Command(\n    'x',\n    # the join needs the server running, the token alone does not say so\n"
    "    opts=ResourceOptions(depends_on=[server]),\n)\n",
    "# the VM reads the snippet at boot\ncmd = Command(\n    'x',\n    opts=ResourceOptions(depends_on=[vm]),\n)\n",
    "def f():\n    # the host must be provisioned first\n    deps = [vm]\n"
    "    return Command('x', opts=ResourceOptions(depends_on=deps))\n",
    "Release(\n    'x',\n    # the chart mounts these Secrets by name\n    opts=ResourceOptions(\n"
    "        parent=self,\n        depends_on=[secret],\n    ),\n)\n",
])
def test_depends_on_with_a_comment_passes(src):
    assert check_source(src) == []


# --- on the real program's synth ------------------------------------------------------------------

def _synth_generated(hosts: int, tmp_path: Path) -> list[dict]:
    import subprocess
    import sys

    from synth import bench

    stacks = tmp_path / "stacks"
    env = bench.write_stack(hosts, stacks)
    out = tmp_path / "build"
    done = subprocess.run([sys.executable, "-m", "synth", "--env", env, "--out", str(out),
                           "--stack-dir", str(stacks)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    return cp.load_resources(out / env / "resources.json")


@pytest.mark.parametrize("env", ["mirkwood", "lothlorien"])
def test_real_environment_has_an_acyclic_graph_and_a_path(env, synth_result):
    a = cp.analyse(synth_result(env).resources)
    assert a.up_seconds <= a.serial_seconds
    assert {e.src for e in a.edges} | {e.dst for e in a.edges} <= a.custom
    if any(a.seconds.values()):
        assert a.path and a.path[-1].finish == a.up_seconds == max(a.finish.values())
        for prev, nxt in zip(a.path, a.path[1:]):
            assert any(e.src == prev.urn and e.dst == nxt.urn for e in a.edges)
            assert nxt.start == prev.finish


def test_more_vms_and_agents_do_not_lengthen_the_real_critical_path(tmp_path):
    """The synthetic bench environment at 4 and 9 hosts (1 and 6 k3s agents, 4 and 9 VMs)."""
    from synth import bench

    base = __import__("yaml").safe_load((ROOT / f"Pulumi.{bench.BASE_STACK}.yaml").read_text())
    assert "homelab:proxmox" in base["config"], f"Pulumi.{bench.BASE_STACK}.yaml lost its Proxmox VMs"
    small = cp.analyse(_synth_generated(4, tmp_path / "small"))
    large = cp.analyse(_synth_generated(9, tmp_path / "large"))
    vm = "proxmoxve:index/vmLegacy:VmLegacy"
    assert sum(1 for u in large.custom if large.entries[u]["type"] == vm) > \
        sum(1 for u in small.custom if small.entries[u]["type"] == vm)
    assert large.serial_seconds > small.serial_seconds
    assert small.up_seconds > 0
    assert large.up_seconds == small.up_seconds, cp.report(large)


def test_bench_md_states_the_default_model():
    """synth/BENCH.md shows the defaults the code uses (regenerate: python -m synth.critical_path --markdown)."""
    assert cp.markdown_tables() in (ROOT / "synth" / "BENCH.md").read_text()
