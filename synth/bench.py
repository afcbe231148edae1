"""`make bench`: the program's synth against the SDK's floor, at 10, 100 and 1000 hosts.

For each size, a synthetic environment (N VMs cloned with cloud-init, k3s on them: 3 servers and
N-3 agents, each host in the inventory) is generated from the project's `Pulumi.mirkwood.yaml`
(so it follows the config schema as it grows) and measured twice, each run in a fresh Python
process so peak RSS is that run's own:

(a) program  - `synth.engine.run`: the real program under the synth's mocks (config loading and
               validation, components, rendering, every registration);
(b) baseline - the same resources (same types, names, parents, providers, dependencies, options
               and inputs, as recorded from (a)) registered directly with the providers' SDK
               classes under the same mocks and recording monitor: what the engine needs anyway,
               the floor no program can beat.

Both processes import pulumi and the provider SDK packages before the clock starts; everything
after (the program's own modules, SDK submodules, registration until every RPC is done) is timed.
Wall and CPU time are measured inside the child around that work; peak RSS is the child's
ru_maxrss. Each row also carries the size's critical path and serial sum (synth/critical_path.py).

    python -m synth.bench [--sizes 10,100,1000] [--repeat 3] [--out build] [--gc default|off]
                          [--profile] [--check]

prints the table and writes build/bench.json. Targets: baseline ratio <= 1.3 at every size,
1000-host time within 11x the 100-host time. `--profile` runs the program once more at the
largest size under cProfile and prints its hot spots (build/bench-profile.txt).
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import yaml

ROOT = Path(__file__).resolve().parent.parent
BASE_STACK = "mirkwood"
SIZES = (10, 100, 1000)
RATIO_TARGET = 1.3
GROWTH_TARGET = 11.0  # time(1000 hosts) / time(100 hosts)
SERVERS = 3
NETWORK = ipaddress.IPv4Network("10.96.0.0/20")  # room for 4000 hosts
PODS = ipaddress.IPv4Network("10.128.0.0/24")  # widened to the pod network the node count needs
FIRST_HOST_VMID = 20000
# The SDK packages both runs import before the clock starts.
SDK_PACKAGES = ("pulumi", "pulumi_command", "pulumi_kubernetes", "pulumi_linode", "pulumi_proxmoxve",
                "pulumi_random")


# ---------------------------------------------------------------------------------------------
# Synthetic environments
# ---------------------------------------------------------------------------------------------
# `make plan` of one environment (two synths and the diff) against one `make synth` (issue #14).
PLAN_RATIO_TARGET = 2.0

def env_name(hosts: int) -> str:
    return f"bench{hosts}"


def host_name(env: str, i: int) -> str:
    return f"{env}-k3s-s{i}" if i <= SERVERS else f"{env}-k3s-a{i - SERVERS}"


def generate(hosts: int, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A stack document (`config: {homelab:...}`) with `hosts` VMs, k3s on all of them.

    Sections that deploy other hosts (containers, Linode, Incus, onboard) are left out so every
    host is the same kind; services on the cluster (mtig, monitoring) stay as in the base stack.
    """
    if hosts < SERVERS + 1:
        raise ValueError(f"at least {SERVERS + 1} hosts (3 k3s servers and an agent)")
    if base is None:
        base = yaml.safe_load((ROOT / f"Pulumi.{BASE_STACK}.yaml").read_text())
    cfg = copy.deepcopy(base["config"])
    env = env_name(hosts)
    out: dict[str, Any] = {}

    environment = cfg["homelab:environment"]
    environment["name"] = env
    environment["domain"] = f"{env}.lan"
    net_name = environment.get("default_network") or sorted(environment["networks"])[0]
    network = dict(environment["networks"][net_name])
    network.update(cidr=str(NETWORK), gateway=str(NETWORK.network_address + 1),
                   dns_servers=[str(NETWORK.network_address + 1)])
    network["vlan"] = 96
    environment["networks"] = {net_name: network}
    environment["default_network"] = net_name
    out["homelab:environment"] = environment

    names = [host_name(env, i) for i in range(1, hosts + 1)]
    addresses = [str(NETWORK.network_address + 16 + i) for i in range(1, hosts + 1)]
    if "homelab:proxmox" in cfg:
        out["homelab:proxmox"] = _proxmox(cfg["homelab:proxmox"], names, addresses)
    if "homelab:k3s" in cfg:
        out["homelab:k3s"] = _k3s(cfg["homelab:k3s"], names, addresses)
    for key in ("homelab:mtig", "homelab:monitoring"):
        if key in cfg:
            out[key] = cfg[key]
    if "homelab:monitoring" in out:
        # Publishing Prometheus and Loki needs the lab CA (stacks/config/monitoring.py), which the
        # generated environment leaves out: nobody outside reads it.
        out["homelab:monitoring"] = copy.deepcopy(out["homelab:monitoring"])
        out["homelab:monitoring"].pop("allowed_sources", None)
    if "homelab:mtig" in out:
        # A published name needs a host of group dns to serve it (stacks/config/names.py); the
        # generated environment has VMs only, so Grafana is published without one.
        out["homelab:mtig"] = copy.deepcopy(out["homelab:mtig"])
        for key in ("hostname", "ingress_class"):
            (out["homelab:mtig"].get("grafana") or {}).pop(key, None)
    return {"config": out}


def _proxmox(px: dict[str, Any], names: list[str], addresses: list[str]) -> dict[str, Any]:
    px = copy.deepcopy(px)
    vms = px.get("vms") or []
    template = (px.get("templates") or [{}])[0]
    proto = next((vm for vm in vms if "k3s_agent" in (vm.get("groups") or [])), vms[0] if vms else {})
    template_name = proto.get("template") or template.get("name") or template.get("distribution")
    px["templates"] = [t for t in px.get("templates") or [] if (t.get("name") or t.get("distribution")) == template_name]
    new_vms = []
    for i, (name, address) in enumerate(zip(names, addresses)):
        vm = {k: v for k, v in proto.items() if k not in ("node",)}
        server = i < SERVERS
        vm.update(name=name, vm_id=FIRST_HOST_VMID + i, template=template_name, ipv4=address,
                  groups=["k3s", "k3s_server" if server else "k3s_agent"])
        new_vms.append(vm)
    px["vms"] = new_vms
    px["containers"] = []
    template_ids = [t["vm_id"] for t in px["templates"] if "vm_id" in t]
    first = min([FIRST_HOST_VMID, *template_ids, (px.get("vmid_range") or {}).get("first", FIRST_HOST_VMID)])
    px["vmid_range"] = {"first": first, "last": FIRST_HOST_VMID + len(names) + 99}
    return px


def _k3s(k3s: dict[str, Any], names: list[str], addresses: list[str]) -> dict[str, Any]:
    """Servers are the first three hosts, agents the rest; everything else as in the base."""
    k3s = copy.deepcopy(k3s)
    servers, agents = names[:SERVERS], names[SERVERS:]
    target = k3s
    if "clusters" in k3s:  # several clusters: scale the first, drop the others
        target = copy.deepcopy(k3s["clusters"][0])
        k3s["clusters"] = [target]
    _set_nodes(target, "servers", servers)
    _set_nodes(target, "agents", agents)
    for per_node in ("node_labels", "node_taints"):  # keyed by the base's host names
        target.pop(per_node, None)
    # Names of the base's domain are not served here (no dns host): keep the addresses only.
    target["tls_san"] = [san for san in target.get("tls_san") or [] if not any(c.isalpha() for c in san)]
    target.pop("vip", None)
    # One /24 of pods per node (stacks/config/k3s.py): more than 256 nodes need a wider pod network.
    if len(names) > 256:
        target["cluster_cidr"] = str(PODS.supernet(new_prefix=24 - math.ceil(math.log2(len(names)))))
    return k3s


def _set_nodes(section: dict[str, Any], key: str, names: list[str]) -> None:
    """Keep the base's entry shape: a list of names, or a list of objects with a `host`/`name`."""
    if key not in section:
        return
    current = section[key] or []
    if current and isinstance(current[0], dict):
        proto = current[0]
        field = "host" if "host" in proto else "name"
        section[key] = [{**{k: v for k, v in proto.items() if k not in ("address", "ipv4")}, field: n}
                        for n in names]
    else:
        section[key] = list(names)


def write_stack(hosts: int, stack_dir: Path) -> str:
    env = env_name(hosts)
    stack_dir.mkdir(parents=True, exist_ok=True)
    (stack_dir / f"Pulumi.{env}.yaml").write_text(yaml.safe_dump(generate(hosts), sort_keys=True))
    return env


# ---------------------------------------------------------------------------------------------
# The two runs (each in its own process: `python -m synth.bench --child ...`)
# ---------------------------------------------------------------------------------------------
def _gc_policy(policy: str) -> None:
    """Both sides run under the same collector settings. `off`: no cyclic GC during the run (the
    SDK keeps every resource, Output and future alive to the end, so full collections find little
    and cost time proportional to everything allocated so far)."""
    import gc

    if policy == "off":
        gc.freeze()
        gc.disable()
    elif policy != "default":
        raise ValueError(f"unknown gc policy {policy!r}")


def _import_sdks() -> None:
    import importlib

    for name in SDK_PACKAGES:
        importlib.import_module(name)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child_program(env: str, stack_dir: Path, record: Path, profile: Path | None = None,
                  gc_policy: str = "default") -> dict[str, Any]:
    _import_sdks()
    _gc_policy(gc_policy)
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    t0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    from synth import engine

    result = engine.run(env, stack_dir=stack_dir)
    if prof:
        prof.disable()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = _peak_rss_mb()
    if prof:
        prof.dump_stats(str(profile))
    record.write_text(json.dumps(result.resources, sort_keys=True))
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": rss, "resources": len(result.resources)}


def child_baseline(env: str, record: Path, gc_policy: str = "default") -> dict[str, Any]:
    _import_sdks()
    _gc_policy(gc_policy)
    program = json.loads(record.read_text())
    t0, c0 = time.perf_counter(), time.process_time()
    import pulumi
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from synth.engine import PROJECT, Recorded, RecordingMonitor
    from synth.mocks import HomelabMocks

    recorded = Recorded()
    pulumi.runtime.set_mocks(HomelabMocks(), project=PROJECT, stack=env, preview=False,
                             monitor=RecordingMonitor(HomelabMocks(), recorded))
    replay = Replay(program)
    _sync_await(run_pulumi_func(replay.run))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = _peak_rss_mb()
    mine = {r["urn"]: r for r in recorded.resources}
    same = sum(1 for r in program if _same(r, mine.get(r["urn"])))
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": rss, "resources": len(recorded.resources),
            "identical": same, "generic": replay.generic}


def _same(a: dict[str, Any], b: dict[str, Any] | None) -> bool:
    keys = ("type", "name", "parent", "provider", "dependencies", "inputs", "custom")
    return b is not None and all(a.get(k) == b.get(k) for k in keys)


class Replay:
    """Register recorded resources with the SDK's own classes, in dependency order."""

    def __init__(self, resources: list[dict[str, Any]]) -> None:
        self.resources = resources
        self.by_urn = {r["urn"]: r for r in resources}
        self.objects: dict[str, Any] = {}
        self.generic: list[str] = []  # types registered as plain CustomResource (no SDK class fits)
        self._classes = _sdk_classes()
        self._resolved: dict[str, tuple[Any, dict[str, str]]] = {}

    def order(self) -> list[dict[str, Any]]:
        deps: dict[str, set[str]] = {}
        for r in self.resources:
            d = set(r.get("dependencies") or ())
            for key in ("parent", "provider"):
                if r.get(key):
                    d.add(r[key])
            d |= set(_refs(r.get("inputs")))
            deps[r["urn"]] = {x for x in d if x in self.by_urn and x != r["urn"]}
        done: set[str] = set()
        out: list[dict[str, Any]] = []
        pending = [r["urn"] for r in self.resources]
        while pending:
            rest = []
            for u in pending:
                if deps[u] <= done:
                    out.append(self.by_urn[u])
                    done.add(u)
                else:
                    rest.append(u)
            if len(rest) == len(pending):
                raise ValueError(f"cannot order {rest[:3]}...")
            pending = rest
        return out

    def run(self) -> None:
        for r in self.order():
            self.objects[r["urn"]] = self.register(r)

    def register(self, r: dict[str, Any]) -> Any:
        import pulumi

        o = r.get("options") or {}
        opts = pulumi.ResourceOptions(
            parent=self.objects.get(r.get("parent")),
            provider=self.objects.get(r.get("provider")) if r.get("custom") else None,
            depends_on=[self.objects[d] for d in r.get("dependencies") or () if d in self.objects] or None,
            protect=o.get("protect") or None,
            retain_on_delete=o.get("retain_on_delete") or None,
            ignore_changes=o.get("ignore_changes") or None,
            replace_on_changes=o.get("replace_on_changes") or None,
            delete_before_replace=o.get("delete_before_replace") or None,
            additional_secret_outputs=o.get("additional_secret_outputs") or None,
            deleted_with=self.objects.get(o.get("deleted_with")) if o.get("deleted_with") else None,
        )
        if not r.get("custom"):
            c = pulumi.ComponentResource(r["type"], r["name"], None, opts)
            c.register_outputs({})
            return c
        inputs = self._values(r.get("inputs") or {})
        if r.get("kind") == "read":
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=f"{r['name']}-id"))
            return pulumi.CustomResource(r["type"], r["name"], inputs, opts)
        if r["type"].startswith("pulumi:providers:"):
            # Provider config travels JSON-encoded (`"false"`); the class encodes it again.
            inputs = {k: _decoded(v) for k, v in inputs.items()}
        cls, names = self._class(r["type"])
        if cls is not None and set(inputs) <= set(names):
            return cls(r["name"], opts=opts, **{names[k]: v for k, v in inputs.items()})
        self.generic.append(r["type"])
        if r["type"].startswith("pulumi:providers:"):
            return pulumi.ProviderResource(r["type"].split(":")[2], r["name"], inputs, opts)
        return pulumi.CustomResource(r["type"], r["name"], inputs, opts)

    def _class(self, token: str) -> tuple[Any, dict[str, str]]:
        """The SDK class of a type token, and its input names (wire name -> Python argument)."""
        if token in self._resolved:
            return self._resolved[token]
        found = self._classes.get(token)
        if found is None:
            return None, {}
        import importlib
        import inspect

        import pulumi._types as types

        module_name, class_name = found
        cls = getattr(importlib.import_module(module_name), class_name)
        module = sys.modules[cls.__module__]
        args_cls = getattr(module, f"{class_name}Args", None)
        names: dict[str, str] = {}
        if args_cls is not None:
            names = {wire: py for py, wire in types.input_type_py_to_pulumi_names(args_cls).items()}
        init = getattr(cls, "_internal_init", None)
        if init is not None:  # arguments the class sets itself (apiVersion, kind) are inputs too
            for p in inspect.signature(init).parameters:
                if p not in ("__self__", "resource_name", "opts", "__props__"):
                    names.setdefault(_camel(p), p)
        self._resolved[token] = (cls, names)
        return self._resolved[token]

    def _values(self, value: Any) -> Any:
        import pulumi

        from synth.wire import MASK

        if isinstance(value, dict):
            if set(value) == {"$ref"}:
                return self.objects[value["$ref"]]
            if set(value) == {"$asset"}:
                a = value["$asset"]
                return pulumi.StringAsset(a["text"]) if "text" in a else pulumi.FileAsset(a["path"])
            return {k: self._values(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._values(v) for v in value]
        if value == MASK:
            return pulumi.Output.secret(MASK)
        return value


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return value if isinstance(decoded, str) else decoded
    return value


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _refs(value: Any):
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            yield value["$ref"]
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _refs(v)


def _sdk_classes() -> dict[str, Any]:
    """token -> (module, class) from each SDK package's own registration table."""
    import importlib

    table: dict[str, Any] = {}
    for pkg in SDK_PACKAGES[1:]:
        source = Path(importlib.import_module(pkg).__file__).read_text()
        for m in re.finditer(r'resource_modules="""(.*?)"""', source, re.S):
            for mod in json.loads(m.group(1)):
                for token, cls in mod["classes"].items():
                    table[token] = (mod["fqn"], cls)
        for m in re.finditer(r'resource_packages="""(.*?)"""', source, re.S):
            for p in json.loads(m.group(1)):
                table[p["token"]] = (p["fqn"], p["class"])
    return table


# ---------------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------------
def _spawn(args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "synth.bench", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate()
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {' '.join(args)} failed ({proc.returncode}):\n{stderr[-4000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["process_seconds"] = elapsed
    return result


def measure(hosts: int, work: Path, repeat: int = 1, gc_policy: str = "default") -> dict[str, Any]:
    stack_dir = work / "stacks"
    env = write_stack(hosts, stack_dir)
    record = work / f"{env}.resources.json"
    runs: dict[str, list[dict[str, Any]]] = {"program": [], "baseline": []}
    for _ in range(repeat):
        gc_arg = ["--gc", gc_policy]
        runs["program"].append(_spawn(["--child", "program", "--env", env, "--stack-dir", str(stack_dir),
                                       "--record", str(record), *gc_arg]))
        runs["baseline"].append(_spawn(["--child", "baseline", "--env", env, "--record", str(record), *gc_arg]))
    row: dict[str, Any] = {"hosts": hosts, "env": env}
    for side, results in runs.items():
        row[side] = {
            "seconds": round(statistics.median(r["seconds"] for r in results), 4),
            "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in results), 4),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in results), 1),
            "process_seconds": round(statistics.median(r["process_seconds"] for r in results), 4),
            "resources": results[-1]["resources"],
        }
    b = runs["baseline"][-1]
    row["baseline"]["identical"] = b["identical"]
    row["baseline"]["generic_types"] = sorted(set(b["generic"]))
    row["time_ratio"] = round(row["program"]["seconds"] / row["baseline"]["seconds"], 3)
    row["cpu_ratio"] = round(row["program"]["cpu_seconds"] / row["baseline"]["cpu_seconds"], 3)
    row["memory_ratio"] = round(row["program"]["peak_rss_mb"] / row["baseline"]["peak_rss_mb"], 3)
    records = json.loads(record.read_text())
    row["custom_resources"] = sum(1 for r in records if r.get("custom"))
    row["by_type"] = dict(sorted(_count(r["type"] for r in records).items()))
    from synth.critical_path import analyse

    a = analyse(records)
    row["critical_path_seconds"], row["serial_seconds"] = a.up_seconds, a.serial_seconds
    return row


def _timed(args: list[str]) -> float:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return time.perf_counter() - t0


def measure_plan(env: str, work: Path, repeat: int = 1) -> dict[str, Any]:
    """`make plan` (base: this same tree, so both synths run) against `make synth`, whole processes.

    cold: the first plan, whose base synth runs beside the working tree's (a second core helps);
    warm: later plans of the same base, whose synth is cached under build/plan/cache/."""
    out = work / f"plan-{env}"
    shutil.rmtree(out, ignore_errors=True)
    synth = [_timed(["-m", "synth", "--env", env, "--out", str(work / "synth")]) for _ in range(repeat)]
    plan_args = ["-m", "synth.plan", "--env", env, "--base", str(ROOT), "--out", str(out)]
    cold = _timed(plan_args)
    warm = [_timed(plan_args) for _ in range(max(repeat - 1, 1))]
    row = {"env": env, "synth_seconds": round(statistics.median(synth), 3), "cold_seconds": round(cold, 3),
           "warm_seconds": round(statistics.median(warm), 3)}
    row["cold_ratio"] = round(row["cold_seconds"] / row["synth_seconds"], 3)
    row["warm_ratio"] = round(row["warm_seconds"] / row["synth_seconds"], 3)
    return row


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out


def verdicts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    v: dict[str, Any] = {
        "ratio_target": RATIO_TARGET,
        "ratio_ok": all(r["time_ratio"] <= RATIO_TARGET for r in rows),
    }
    by = {r["hosts"]: r for r in rows}
    if 100 in by and 1000 in by:
        growth = by[1000]["program"]["seconds"] / by[100]["program"]["seconds"]
        cpu_growth = by[1000]["program"]["cpu_seconds"] / by[100]["program"]["cpu_seconds"]
        floor_growth = by[1000]["baseline"]["cpu_seconds"] / by[100]["baseline"]["cpu_seconds"]
        v.update(growth_target=GROWTH_TARGET, growth_1000_over_100=round(growth, 2),
                 growth_ok=growth <= GROWTH_TARGET, cpu_growth_1000_over_100=round(cpu_growth, 2),
                 floor_cpu_growth_1000_over_100=round(floor_growth, 2))
    return v


def table(rows: list[dict[str, Any]], v: dict[str, Any]) -> str:
    head = (f"{'hosts':>5} {'resources':>9} | {'wall s':>7} {'floor s':>7} {'ratio':>5} | "
            f"{'cpu s':>7} {'floor s':>7} {'ratio':>5} | {'peak MB':>7} {'floor MB':>8} {'ratio':>5} | "
            f"{'same':>9}")
    lines = ["program (synth of the program) vs floor (same resources straight into the SDK)",
             head, "-" * len(head)]
    for r in rows:
        p, b = r["program"], r["baseline"]
        lines.append(
            f"{r['hosts']:>5} {p['resources']:>9} | {p['seconds']:>7.2f} {b['seconds']:>7.2f} "
            f"{r['time_ratio']:>5.2f} | {p['cpu_seconds']:>7.2f} {b['cpu_seconds']:>7.2f} "
            f"{r['cpu_ratio']:>5.2f} | {p['peak_rss_mb']:>7.0f} {b['peak_rss_mb']:>8.0f} "
            f"{r['memory_ratio']:>5.2f} | {b['identical']:>4}/{p['resources']:<4}"
        )
    if all("critical_path_seconds" in r for r in rows):
        lines.append("estimated `up` (critical path) / serial sum: " + ", ".join(
            f"{r['hosts']} hosts {r['critical_path_seconds']:.0f} s / {r['serial_seconds']:.0f} s" for r in rows))
    lines.append(f"wall-time ratio <= {RATIO_TARGET} at every size: {'ok' if v['ratio_ok'] else 'MISSED'}")
    if "growth_ok" in v:
        lines.append(f"1000-host time / 100-host time = {v['growth_1000_over_100']:.2f} "
                     f"(<= {GROWTH_TARGET}): {'ok' if v['growth_ok'] else 'MISSED'}")
        if "cpu_growth_1000_over_100" in v:
            lines.append(f"  in CPU time: program {v['cpu_growth_1000_over_100']:.2f}, "
                         f"floor {v['floor_cpu_growth_1000_over_100']:.2f}")
    return "\n".join(lines)


def profile_report(stats_file: Path, limit: int = 25) -> str:
    import io
    import pstats

    buf = io.StringIO()
    st = pstats.Stats(str(stats_file), stream=buf)
    st.strip_dirs()
    buf.write("== by own time (tottime) ==\n")
    st.sort_stats("tottime").print_stats(limit)
    buf.write("== by cumulative time, program code only (stacks/, components/, cloudinit/, synth/) ==\n")
    st2 = pstats.Stats(str(stats_file), stream=buf)
    st2.sort_stats("cumulative").print_stats(r"/(stacks|components|cloudinit|synth)/", limit)
    return buf.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median time, max RSS)")
    ap.add_argument("--out", default="build", type=Path)
    ap.add_argument("--profile", action="store_true", help="profile the program at the largest size")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--gc", choices=("default", "off"), default="default",
                    help="cyclic garbage collector in both runs: Python's default, or off during the run")
    ap.add_argument("--plan-envs", default="mirkwood,lothlorien",
                    help="environments whose `make plan` is timed against `make synth` (empty: none)")
    ap.add_argument("--child", choices=("program", "baseline"), help=argparse.SUPPRESS)
    ap.add_argument("--env", help=argparse.SUPPRESS)
    ap.add_argument("--stack-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child == "program":
        print(json.dumps(child_program(args.env, args.stack_dir, args.record, args.profile_to, args.gc)))
        return 0
    if args.child == "baseline":
        print(json.dumps(child_baseline(args.env, args.record, args.gc)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = []
    with tempfile.TemporaryDirectory(prefix="homelab-bench-") as tmp:
        work = Path(tmp)
        for n in sizes:
            print(f"measuring {n} hosts ...", file=sys.stderr, flush=True)
            rows.append(measure(n, work, args.repeat, args.gc))
        v = verdicts(rows)
        print(table(rows, v))
        plans = [measure_plan(env, work, args.repeat) for env in args.plan_envs.split(",") if env]
        if plans:
            v["plan_ok"] = all(p["cold_ratio"] < PLAN_RATIO_TARGET for p in plans)
            print(f"\nmake plan vs make synth (target < {PLAN_RATIO_TARGET}x, whole processes; "
                  "cold: both synths, warm: base synth cached)")
            for p in plans:
                print(f"  {p['env']:12s} synth {p['synth_seconds']:6.2f} s  plan cold {p['cold_seconds']:6.2f} s "
                      f"({p['cold_ratio']:.2f}x)  warm {p['warm_seconds']:6.2f} s ({p['warm_ratio']:.2f}x)")
        args.out.mkdir(parents=True, exist_ok=True)
        report = {"sizes": sizes, "repeat": args.repeat, "gc": args.gc, "python": sys.version.split()[0],
                  "rows": rows, "verdicts": v, "plan": plans}
        if args.profile:
            n = max(sizes)
            env = env_name(n)
            stats = args.out / "bench-profile.pstats"
            _spawn(["--child", "program", "--env", env, "--stack-dir", str(work / "stacks"),
                    "--record", str(work / "profiled.json"), "--profile-to", str(stats.resolve()), "--gc", args.gc])
            text = profile_report(stats)
            (args.out / "bench-profile.txt").write_text(text)
            print(f"\nprofile of the program at {n} hosts: {args.out / 'bench-profile.txt'}")
            print("\n".join(text.splitlines()[:60]))
            report["profile"] = str(args.out / "bench-profile.txt")
    (args.out / "bench.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out / 'bench.json'}")
    failed = not v["ratio_ok"] or not v.get("growth_ok", True) or not v.get("plan_ok", True)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
