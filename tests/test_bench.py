"""`make bench` machinery at small sizes: generated configs, the replayed floor, the report.

No timing assertions here: performance claims come from `make bench` (synth/BENCH.md).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from stacks.config import loader
from synth import bench, engine
from tests.conftest import ROOT

BASE = yaml.safe_load((ROOT / f"Pulumi.{bench.BASE_STACK}.yaml").read_text())


def _validate(hosts: int, tmp_path):
    """The generated stack file as the synth reads it (secrets as placeholders), validated."""
    env = bench.write_stack(hosts, tmp_path)
    entries, secret_keys, _ = engine.synth_config(env, stack_dir=tmp_path)
    return loader.validate(entries, stack=env, secret_keys=secret_keys)


# 1000: `make bench`'s largest size, whose 1000 k3s nodes need more than a /16 of pods.
@pytest.mark.parametrize("hosts", [4, 9, 1000])
def test_generated_environment_is_a_valid_config(hosts, tmp_path):
    env = bench.env_name(hosts)
    cfg = _validate(hosts, tmp_path)
    assert cfg.environment.name == env
    if "homelab:proxmox" in BASE["config"]:
        names = [vm.name for vm in cfg.proxmox.vms]
        assert names == [bench.host_name(env, i) for i in range(1, hosts + 1)]
        assert len(set(vm.vm_id for vm in cfg.proxmox.vms)) == hosts
        assert cfg.proxmox.containers == ()
    if "homelab:k3s" in BASE["config"]:
        cluster = cfg.k3s.clusters[0]
        assert len(cluster.servers) == 3 and len(cluster.agents) == hosts - 3


def test_generated_environment_is_deterministic_and_scales_only_hosts():
    a, b = bench.generate(6), bench.generate(6)
    assert yaml.safe_dump(a, sort_keys=True) == yaml.safe_dump(b, sort_keys=True)
    small, large = bench.generate(4)["config"], bench.generate(40)["config"]
    assert set(small) == set(large)
    for key in set(small) - {"homelab:environment", "homelab:proxmox", "homelab:k3s"}:
        assert small[key] == large[key], key


def test_too_few_hosts_for_three_servers_and_an_agent():
    with pytest.raises(ValueError, match="at least 4 hosts"):
        bench.generate(3)


def test_k3s_nodes_keep_the_base_entry_shape():
    section = {"servers": [{"host": "a", "labels": ["x"]}], "agents": ["b"]}
    bench._set_nodes(section, "servers", ["s1", "s2"])
    bench._set_nodes(section, "agents", ["a1"])
    assert section == {"servers": [{"host": "s1", "labels": ["x"]}, {"host": "s2", "labels": ["x"]}],
                       "agents": ["a1"]}


def test_bench_runs_both_sides_and_the_floor_replays_the_program_exactly(tmp_path):
    """A tiny size end to end: each side in its own process, the floor registers exactly what
    the program registered (same type, name, parent, provider, dependencies, inputs)."""
    done = subprocess.run([sys.executable, "-m", "synth.bench", "--sizes", "4", "--repeat", "1",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "bench.json").read_text())
    assert [r["hosts"] for r in report["rows"]] == [4]
    for row in report["rows"]:
        p, b = row["program"], row["baseline"]
        assert p["resources"] == b["resources"] == b["identical"]
        assert b["generic_types"] == []  # every type went through its SDK class
        for side in (p, b):
            assert side["seconds"] > 0 and side["cpu_seconds"] > 0 and side["peak_rss_mb"] > 20
        assert row["time_ratio"] == pytest.approx(p["seconds"] / b["seconds"], rel=1e-2)
    assert "wall-time ratio <= 1.3 at every size" in done.stdout
    assert report["rows"][0]["critical_path_seconds"] <= report["rows"][0]["serial_seconds"]
    assert f"{report['rows'][0]['program']['resources']}" in done.stdout


def _row(hosts: int, program: float, baseline: float) -> dict:
    side = lambda s: {"seconds": s, "cpu_seconds": s, "peak_rss_mb": 100.0, "resources": hosts}  # noqa: E731
    return {"hosts": hosts, "program": side(program), "baseline": {**side(baseline), "identical": hosts},
            "time_ratio": program / baseline, "cpu_ratio": program / baseline, "memory_ratio": 1.0}


def test_verdicts_hold_the_targets():
    ok = [_row(10, 1.0, 1.0), _row(100, 2.0, 1.6), _row(1000, 21.0, 17.0)]
    v = bench.verdicts(ok)
    assert v["ratio_ok"] and v["growth_ok"] and v["growth_1000_over_100"] == 10.5
    slow = [_row(10, 1.0, 1.0), _row(100, 2.0, 1.5), _row(1000, 23.0, 17.0)]
    v = bench.verdicts(slow)
    assert not v["ratio_ok"] and not v["growth_ok"]
    text = bench.table(slow, v)
    assert "wall-time ratio <= 1.3 at every size: MISSED" in text
    assert "1000-host time / 100-host time = 11.50 (<= 11.0): MISSED" in text


def test_replay_finds_the_sdk_class_and_its_input_names():
    replay = bench.Replay([])
    cls, names = replay._class("proxmoxve:index/vmLegacy:VmLegacy")
    assert cls.__name__ == "VmLegacy" and names["vmId"] == "vm_id" and names["networkDevices"] == "network_devices"
    cls, names = replay._class("pulumi:providers:kubernetes")
    assert cls.__module__.startswith("pulumi_kubernetes") and names["kubeconfig"] == "kubeconfig"
    cls, names = replay._class("kubernetes:core/v1:ConfigMap")
    assert names["apiVersion"] == "api_version"
    assert replay._class("acme:index/widget:Widget") == (None, {})
